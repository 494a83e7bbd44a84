/**
 * Warm starts for the QEMU backend: boot-to-hello is on the critical path of every audit, and a
 * cold boot under TCG costs seconds (the kernel, then Node starting the agent). So the first job
 * boots a guest once, up to an idle agent that has answered a warm-up `initialize` (its input disk
 * not yet attached; its empty scratch disk mounted on /tmp and /work), and saves it: QEMU migrates the
 * paused guest into a state file (vm-migration.ts) and its root overlay and scratch disk are kept
 * beside it. Every later job copies that small overlay and the sparse scratch disk, restores the
 * state (qemu.ts: `-incoming defer`, then `migrate-incoming fd:3` once the host is on the agent's
 * channel, then `cont`) with its own disks and sockets, and is at the agent's hello in about a second
 * and a half; the agent then attaches the job's input disk, takes the host's clock and fresh entropy.
 *
 * A template is cached under the image cache keyed by everything the saved guest depends on: the
 * boot image, the agent bundle, the accelerator, the VM options, the input disk's size (the guest
 * keeps the size it saw at boot) and QEMU's version. Building it is
 * serialised between processes by a lock directory.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { cacheRoot, type BootImageInfo } from '@pyti/images';
import { RpcPeer, StreamMessageReader, StreamMessageWriter, type AgentNotifications, type AgentRequests } from '@pyti/vm-agent';
import type { Accelerator } from './accelerator.js';
import type { SandboxInputs } from './backend.js';
import { qemuArgs, scratchDiskBytes, type VmOptions } from './qemu-command.js';
import { connectAgentSocket } from './qemu.js';
import { QmpClient } from './qmp.js';
import { lockCacheEntry } from './cache-lock.js';
import { pruneWarmTemplates, touchWarmTemplate } from './warm-cache.js';
import { migrationSink, waitMigrated, type MigrationSink, type MigrationStatus } from './vm-migration.js';
import { startQemu } from './vm-process.js';
import { INPUT_DISK_BYTES, prepareVmDisks } from './vm-disks.js';

/** A saved, booted guest: restore `state` over a copy of `overlay`. */
export interface WarmTemplate {
  dir: string;
  overlay: string;
  /** The scratch disk the saved guest has mounted (no job has written to it): copied for every job. */
  scratch: string;
  state: string;
  /** The console of the boot that made it. */
  bootConsole: string;
  key: string;
  builtAt: string;
  bootMs: number;
  stateBytes: number;
}

let qemuVersionLine: string | undefined;
/** QEMU's version line (asked once per process: a saved guest restores only into the same QEMU). */
function qemuVersion(): string {
  qemuVersionLine ??= spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? 'unknown';
  return qemuVersionLine;
}

/** The cache key of a warm template. */
export function warmKey(image: BootImageInfo, agentBundle: Buffer, accel: Accelerator, opts: VmOptions): string {
  const norm = { cpus: opts.cpus, memoryMiB: opts.memoryMiB, tmpBytes: opts.tmpBytes, workBytes: opts.workBytes, machine: opts.machine ?? 'microvm' };
  return createHash('sha256')
    .update(JSON.stringify({ image: image.hash, agent: createHash('sha256').update(agentBundle).digest('hex'), accel, norm, inputDisk: INPUT_DISK_BYTES, qemu: qemuVersion(), v: 4 }))
    .digest('hex');
}

/** A timeout that does not keep the process alive. */
const deadline = (ms: number): Promise<null> => new Promise((r) => setTimeout(() => r(null), ms).unref());

function readTemplate(dir: string): WarmTemplate | null {
  try {
    const t = JSON.parse(readFileSync(join(dir, 'warm.json'), 'utf8')) as WarmTemplate;
    return existsSync(t.overlay) && existsSync(t.state) && typeof t.scratch === 'string' && existsSync(t.scratch) ? t : null;
  } catch {
    return null;
  }
}

/**
 * The warm template for these settings, built now if the cache lacks it (a cold boot and a
 * migration to a file: about the time of one cold boot plus a second or two).
 */
export async function warmTemplate(image: BootImageInfo, inputs: SandboxInputs, accel: Accelerator, opts: VmOptions, env: NodeJS.ProcessEnv = process.env): Promise<WarmTemplate> {
  const agent = readFileSync(join(inputs.agentDir, 'agent.mjs'));
  const key = warmKey(image, agent, accel, opts);
  const dir = join(cacheRoot(env), 'images', `warm-${key.slice(0, 16)}`);
  const cached = readTemplate(dir);
  touchWarmTemplate(dir);
  pruneWarmTemplates(join(cacheRoot(env), 'images'), dir, (d) => readTemplate(d) !== null);
  if (cached) return cached;
  mkdirSync(join(cacheRoot(env), 'images'), { recursive: true });
  const unlock = await lockCacheEntry(dir, 10 * 60 * 1000);
  try {
    return readTemplate(dir) ?? (await buildTemplate(image, inputs, accel, opts, key, dir));
  } finally {
    unlock();
  }
}

async function buildTemplate(image: BootImageInfo, inputs: SandboxInputs, accel: Accelerator, opts: VmOptions, key: string, dir: string): Promise<WarmTemplate> {
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(join(partial, 'empty'), { recursive: true });
  const empty = join(partial, 'empty');
  const t0 = Date.now();
  const files = await prepareVmDisks({ ...inputs, inputDir: empty, wheelhouse: empty, tasksDir: empty, jobDir: partial }, image.rootDisk, { scratchBytes: scratchDiskBytes(opts) });
  const qmpPath = join(files.dir, 'qmp.sock');
  const vm = startQemu([...qemuArgs(image, files, accel, opts), '-qmp', `unix:${qmpPath},server=on,wait=off`]);
  let sock: net.Socket | undefined;
  let qmp: QmpClient | undefined;
  let sink: MigrationSink | undefined;
  try {
    sock = await connectAgentSocket(files.agentSocket, vm.ended, 30000);
    sock.on('error', () => undefined);
    const peer = new RpcPeer<Record<string, never>, AgentRequests, AgentNotifications, Record<string, never>>(
      new StreamMessageReader(sock, 1024 * 1024), new StreamMessageWriter(sock), {},
    );
    const hello = await Promise.race([peer.request('initialize', { hostVersion: '0.1.0', warmup: true }), deadline(180000)]);
    if (!hello) throw new Error('no hello from the warm-up guest within 180 s');
    const bootMs = Date.now() - t0;
    // The guest keeps running while QEMU streams it into the state file through a UNIX socket.
    const state = join(partial, 'state');
    sink = await migrationSink(join(files.dir, 'mig.sock'), state);
    qmp = await QmpClient.connect(qmpPath);
    await qmp.execute('stop'); // see vm-migration.ts: paused, not live
    await qmp.execute('migrate', { uri: `unix:${join(files.dir, 'mig.sock')}` });
    await waitMigrated(() => qmp!.execute('query-migrate') as Promise<MigrationStatus>);
    await sink.written;
    await qmp.execute('quit').catch(() => undefined);
    await vm.exited;
    const overlay = join(partial, 'root.qcow2');
    renameSync(files.overlay, overlay);
    renameSync(files.scratchDisk, join(partial, 'scratch.ext4'));
    const bootConsole = `${vm.log.toString()}${existsSync(files.consoleLog) ? readFileSync(files.consoleLog, 'utf8') : ''}`.slice(-16384);
    rmSync(files.dir, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
    const t: WarmTemplate = {
      dir, overlay: join(dir, 'root.qcow2'), scratch: join(dir, 'scratch.ext4'), state: join(dir, 'state'), bootConsole, key,
      builtAt: new Date().toISOString(), bootMs, stateBytes: statSync(state).size,
    };
    writeFileSync(join(partial, 'warm.json'), JSON.stringify(t, null, 1));
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
    return t;
  } catch (err) {
    throw new Error(`building the warm VM template failed: ${(err as Error).message}\n${vm.log.toString().slice(-1500)}`);
  } finally {
    qmp?.close();
    sink?.close();
    sock?.destroy();
    vm.kill();
    await vm.exited;
    rmSync(partial, { recursive: true, force: true });
  }
}
