/**
 * Warm starts for the libvirt backend, as the QEMU backend has them (qemu-warm.ts): a guest booted
 * once through libvirt up to an idle agent, saved, and restored for every later job in well under
 * the time of a cold boot.
 *
 * **Why not `virsh save`/`virsh restore`.** A libvirt save file restores only into a domain of the
 * same name and UUID ("Target domain uuid/name … does not match source"), and a restored domain
 * cannot be `--autodestroy`. Jobs need their own names (several run at once) and autodestroy (a
 * slave that dies takes its domains with it). So PyTI saves and restores at QEMU's level, through
 * libvirt: the template domain is paused and migrated (QMP `stop` and `migrate`, sent with
 * `virsh qemu-monitor-command`) into a socket the slave listens on; each job's transient domain is
 * the template's XML with its own name and paths plus `-incoming unix:<socket>`
 * (`<qemu:commandline>`), the slave streams the state file into that socket once it is on the
 * agent's channel, and resumes the guest (`cont`) once QEMU has loaded it. The devices on both sides
 * come from the same XML, so the guest's state fits them.
 *
 * A template is keyed by the domain's XML with paths and name made neutral (so any change to the
 * domain changes the key), the boot image's build, the agent bundle, libvirt's and QEMU's versions
 * and the input disk's size; it lives in `<stateDir>/warm-<key>/` (root-only: QEMU never opens it,
 * the slave streams it). Building it is serialised between processes by a lock directory.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RpcPeer, type AgentNotifications, type AgentRequests } from '@pyti/vm-agent';
import type { SandboxInputs } from './backend.js';
import { lockCacheEntry } from './cache-lock.js';
import { pruneWarmTemplates, touchWarmTemplate, type WarmCachePolicy } from './warm-cache.js';
import { migrationSink, waitMigrated, type MigrationSink, type MigrationStatus } from './vm-migration.js';
import type { LibvirtInstance } from './libvirt.js';
import type { WarmTemplate } from './qemu-warm.js';
import { copySparseDisk } from './vm-disks.js';

/** A saved, booted guest (a QEMU migration stream in `state`), as the QEMU backend's, and the boot image it is over. */
export interface LibvirtWarmTemplate extends WarmTemplate {
  /** The boot image directory the overlay's backing file is in (the template dies with it). */
  bootDir: string;
}

/** How a template is built: the backend's cold start, and its QEMU monitor. */
export interface TemplateBuilder {
  /** Starts a cold-booted job domain for these inputs. */
  launch(inputs: SandboxInputs): Promise<LibvirtInstance>;
  /** Runs a QMP command on the domain's QEMU (`virsh qemu-monitor-command`); its `return`. */
  monitor(domain: string, command: string, args?: Record<string, unknown>): Promise<unknown>;
  /** Ends the domain at once (`virsh destroy`). */
  destroy(domain: string): Promise<void>;
  /** QEMU's uid:gid when it is not the slave's. */
  runAs: { uid: number; gid: number } | null;
}

function readTemplate(dir: string): LibvirtWarmTemplate | null {
  try {
    const t = JSON.parse(readFileSync(join(dir, 'warm.json'), 'utf8')) as LibvirtWarmTemplate;
    return existsSync(t.overlay) && existsSync(t.state) && existsSync(t.bootDir) && typeof t.scratch === 'string' && existsSync(t.scratch) ? t : null;
  } catch {
    return null;
  }
}

/**
 * Removes the warm templates under `stateDir` that can no longer work (their boot image directory is
 * gone, and their overlay's backing file with it) or that the cache policy lets go (warm-cache.ts),
 * and builds that died half-way. `keep` is the template about to be used.
 */
export function pruneLibvirtTemplates(stateDir: string, keep: string, policy?: WarmCachePolicy): string[] {
  return pruneWarmTemplates(stateDir, keep, (d) => readTemplate(d) !== null, policy);
}

/**
 * The warm template in `dir`, built now through `builder` when it is missing (a cold boot and a
 * migration to a file: a cold boot's time plus a second or two). `bootDir` is the staged boot
 * image the template's overlay is over.
 */
export async function libvirtWarmTemplate(dir: string, key: string, bootDir: string, agentDir: string, tasksDir: string, builder: TemplateBuilder): Promise<LibvirtWarmTemplate> {
  const cached = readTemplate(dir);
  touchWarmTemplate(dir);
  if (cached) return cached;
  const unlock = await lockCacheEntry(dir, 10 * 60 * 1000);
  try {
    return readTemplate(dir) ?? (await buildTemplate(dir, key, bootDir, agentDir, tasksDir, builder));
  } finally {
    unlock();
  }
}

const deadline = (ms: number): Promise<null> => new Promise((r) => setTimeout(() => r(null), ms).unref());

async function buildTemplate(dir: string, key: string, bootDir: string, agentDir: string, tasksDir: string, b: TemplateBuilder): Promise<LibvirtWarmTemplate> {
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(join(partial, 'empty'), { recursive: true, mode: 0o711 });
  chmodSync(partial, 0o711);
  const empty = join(partial, 'empty');
  const t0 = Date.now();
  let inst: LibvirtInstance | undefined;
  let sink: MigrationSink | undefined;
  try {
    inst = await b.launch({ inputDir: empty, wheelhouse: empty, agentDir, tasksDir, rootfs: '', jobDir: partial });
    const peer = new RpcPeer<Record<string, never>, AgentRequests, AgentNotifications, Record<string, never>>(inst.reader, inst.writer, {});
    const hello = await Promise.race([peer.request('initialize', { hostVersion: '0.1.0', warmup: true }), deadline(180000)]);
    if (!hello) throw new Error('no hello from the warm-up guest within 180 s');
    const bootMs = Date.now() - t0;
    // QEMU (libvirt's user) connects to the slave's socket: a directory only its group may enter.
    const migDir = join(partial, 'mig');
    mkdirSync(migDir, { mode: 0o710 });
    if (b.runAs) chownSync(migDir, 0, b.runAs.gid);
    const state = join(partial, 'state');
    sink = await migrationSink(join(migDir, 'mig.sock'), state, b.runAs ?? undefined);
    await b.monitor(inst.domain, 'stop'); // see vm-migration.ts: paused, not live
    await b.monitor(inst.domain, 'migrate', { uri: `unix:${join(migDir, 'mig.sock')}` });
    await waitMigrated(() => b.monitor(inst!.domain, 'query-migrate') as Promise<MigrationStatus>);
    await sink.written;
    copyFileSync(join(inst.vmRoot, 'vm', 'overlay.qcow2'), join(partial, 'root.qcow2'));
    chmodSync(join(partial, 'root.qcow2'), 0o600);
    // The scratch disk the saved guest has mounted (empty of any job), copied for every job like the overlay.
    await copySparseDisk(join(inst.vmRoot, 'vm', 'scratch.ext4'), join(partial, 'scratch.ext4'));
    chmodSync(join(partial, 'scratch.ext4'), 0o600);
    const bootConsole = inst.console().slice(-16384);
    await b.destroy(inst.domain);
    await inst.dispose();
    inst = undefined;
    rmSync(migDir, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
    const t: LibvirtWarmTemplate = {
      dir, overlay: join(dir, 'root.qcow2'), scratch: join(dir, 'scratch.ext4'), state: join(dir, 'state'), bootConsole, key, bootDir,
      builtAt: new Date().toISOString(), bootMs, stateBytes: statSync(state).size,
    };
    writeFileSync(join(partial, 'warm.json'), JSON.stringify(t, null, 1), { mode: 0o600 });
    chmodSync(partial, 0o700);
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
    return t;
  } catch (err) {
    throw new Error(`building the libvirt warm template failed: ${(err as Error).message}${inst ? `\n${inst.console().slice(-1500)}` : ''}`);
  } finally {
    sink?.close();
    if (inst) {
      await b.destroy(inst.domain).catch(() => undefined);
      await inst.dispose();
    }
    rmSync(partial, { recursive: true, force: true });
  }
}
