/**
 * The QEMU backend: one fresh VM per job, booted directly from the cached kernel and initramfs over
 * a throwaway qcow2 overlay of the cached root disk, with no network device at all. The agent's
 * JSON-RPC runs over a virtio-serial port (a UNIX socket on the host); the console (the guest's
 * serial port) is captured. KVM is used when a probe guest boots under it, else TCG.
 *
 * Nothing outlives the job: QEMU runs in its own process group under `setpriv --pdeathsig KILL`
 * (it dies with the slave even if the slave is killed), and dispose() kills it and deletes the
 * overlay, the input disk and the socket.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ensureAgentBundle, requireBootImage, type BootImageInfo } from '@pyti/images';
import { StreamMessageReader, StreamMessageWriter } from '@pyti/vm-agent';
import { chooseAccelerator, type Accelerator } from './accelerator.js';
import type { Backend, BackendCapabilities, SandboxInputs, SandboxInstance } from './backend.js';
import { MAX_GUEST_MESSAGE_BYTES } from './process-sandbox.js';
import { qemuArgs, scratchDiskBytes, type VmOptions } from './qemu-command.js';
import { prepareVmDisks, removeVmDisks, writeInputDisk, type VmJobFiles } from './vm-disks.js';
import { GuestPool, onFirstMessage, primeWaitingGuest, type PooledGuest, type PoolStatus } from './guest-pool.js';
import { guestOptions, poolKey, type GuestSizeOptions } from './pool-key.js';
import { createJobDir, removeJobDir } from '../job-dir.js';
import { commandWorks } from '@pyti/common';
import { startQemu } from './vm-process.js';
import { warmTemplate, type WarmTemplate } from './qemu-warm.js';
import { QmpClient } from './qmp.js';
import { resumeWhenLoaded } from './vm-migration.js';

/** QEMU backend settings: the VM's, and whether to restore jobs from a warm template. */
export interface QemuBackendOptions extends VmOptions {
  image?: BootImageInfo;
  /** Restore each job from a saved booted guest (default true; PYTI_VM_WARM=0 turns it off). */
  warm?: boolean;
  /**
   * Guests kept restored and waiting for the next jobs (guest-pool.ts; default 0: none). Each waiting
   * guest costs about 300 MB of host memory. Needs `warm` (a pool holds restored guests).
   */
  pool?: number;
}

/** The guest's virtio console file (init and agent messages), its last 64 KiB. */
function consoleTail(path: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > 65536 ? text.slice(-65536) : text;
  } catch {
    return '';
  }
}

/** Connects to the agent socket QEMU serves, retrying until it exists or QEMU has ended. */
export function connectAgentSocket(path: string, ended: () => boolean, timeoutMs = 15000): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (ended()) return reject(new Error('the VM ended before its agent channel opened'));
      if (Date.now() > deadline) return reject(new Error(`no agent socket at ${path} after ${timeoutMs} ms`));
      if (!existsSync(path)) return void setTimeout(attempt, 25);
      const s = net.connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', () => setTimeout(attempt, 25));
    };
    attempt();
  });
}

/**
 * A SandboxInstance over a started VM process and its agent socket: what the QEMU and libvirt
 * backends share. `kill` ends the VM; `cleanup` releases its files.
 */
export function vmInstance(
  socket: net.Socket, console: { toString(): string }, exited: SandboxInstance['exited'], kill: () => void, cleanup: () => void, graceMs = 3000,
): SandboxInstance {
  socket.on('error', () => undefined); // a reset when the VM dies is reported through `exited`
  let disposing: Promise<void> | undefined;
  return {
    reader: new StreamMessageReader(socket, MAX_GUEST_MESSAGE_BYTES),
    writer: new StreamMessageWriter(socket),
    console: () => console.toString(),
    exited,
    dispose() {
      disposing ??= (async () => {
        // A guest told to shut down powers itself off; give it a moment, then pull the plug.
        const graceful = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref())]);
        if (!graceful) kill();
        // A killed VM is gone at once, unless stuck in the kernel: then its files go all the same, and the job ends.
        await Promise.race([exited, new Promise((r) => setTimeout(r, 30000).unref())]);
        socket.destroy();
        cleanup();
      })();
      return disposing;
    },
  };
}

export class QemuBackend implements Backend {
  readonly name = 'qemu';
  private accel?: Accelerator;
  private readonly pool: GuestPool;

  constructor(private readonly opts: QemuBackendOptions = {}) {
    this.pool = new GuestPool(this.warm ? opts.pool ?? 0 : 0);
  }

  private get warm(): boolean {
    return this.opts.warm ?? process.env.PYTI_VM_WARM !== '0';
  }

  get capabilities(): BackendCapabilities {
    return { isolation: 'vm', network: 'none', rollback: true, ...(this.accel ? { accelerator: this.accel } : {}) };
  }

  async probe(): Promise<string | null> {
    if (!commandWorks('qemu-system-x86_64', ['--version'])) return 'QEMU is not installed: apt-get install qemu-system-x86 qemu-utils';
    if (!commandWorks('qemu-img', ['--version'])) return 'qemu-img is not installed: apt-get install qemu-utils';
    if (!commandWorks('mkfs.ext4', ['-V'])) return 'mkfs.ext4 is not installed: apt-get install e2fsprogs';
    try {
      const image = this.opts.image ?? requireBootImage();
      this.accel = (await chooseAccelerator(image)).accel;
    } catch (err) {
      return (err as Error).message;
    }
    return null;
  }

  /** The pool of waiting guests: its size and how many are ready now. */
  poolStatus(): PoolStatus {
    return this.pool.status();
  }

  /**
   * Starts filling the pool with guests of `size` (default: the backend's own settings, i.e. what a
   * job without a sized plan gets) and resolves once it is full; at once when the pool size is 0.
   * Rejects if a restore fails. For benchmarks (lease-to-ready with a full pool) and the slave's start.
   */
  async poolReady(size?: GuestSizeOptions): Promise<void> {
    if (this.pool.size === 0) return;
    const agentDir = await ensureAgentBundle();
    const vm = guestOptions(this.opts, size);
    this.pool.want(poolKey(vm, agentDir), () => this.pooledGuest(vm, agentDir));
    await this.pool.ready();
  }

  /** Ends every waiting guest and stops refilling (slave shutdown). Jobs already started are not touched. */
  closePool(): Promise<void> {
    return this.pool.close();
  }

  async start(inputs: SandboxInputs): Promise<SandboxInstance> {
    const vm = guestOptions(this.opts, inputs.guest);
    // A waiting guest of the pool when there is one; else (or when its claim failed) a guest of its own.
    const pooled = await this.pool.claim(poolKey(vm, inputs.agentDir), () => this.pooledGuest(vm, inputs.agentDir), inputs);
    if (pooled) return pooled;
    const { instance } = await this.restore(inputs, vm);
    return instance;
  }

  /**
   * A guest for the pool: restored in a directory of its own (removed with it) with a placeholder
   * input disk of the fixed size, which claim() rewrites in place with the job's filesystem.
   */
  private async pooledGuest(vm: VmOptions, agentDir: string): Promise<PooledGuest> {
    const poolDir = createJobDir();
    const empty = join(poolDir, 'empty');
    mkdirSync(empty);
    let restored: Awaited<ReturnType<QemuBackend['restore']>>;
    try {
      restored = await this.restore({ inputDir: empty, wheelhouse: empty, agentDir, tasksDir: empty, rootfs: '', jobDir: poolDir }, vm, true);
    } catch (err) {
      removeJobDir(poolDir);
      throw err;
    }
    const { instance, files, ended, kill } = restored;
    primeWaitingGuest(instance);
    const readyAt = Date.now();
    const release = async (): Promise<void> => {
      await instance.dispose();
      removeJobDir(poolDir);
    };
    let claimed = false;
    return {
      key: poolKey(vm, agentDir), readyAt, ended: instance.exited,
      alive: () => !ended() && !claimed,
      discard: () => {
        kill(); // a guest that never had a job has nothing to finish
        return release();
      },
      claim: async (inputs) => {
        if (claimed) throw new Error('a pooled guest serves one job only');
        claimed = true;
        const t0 = Date.now();
        await writeInputDisk(inputs, files.inputDisk, join(files.dir, 'input-stage'));
        const note = `[pyti] taken from the guest pool (waited ${((t0 - readyAt) / 1000).toFixed(1)} s; input disk written in ${Date.now() - t0} ms)\n`;
        // The next guest is restored once this one has said hello (not while it is starting).
        return onFirstMessage({
          ...instance,
          console: () => `${instance.console()}${note}`,
          dispose: release,
          hostMarkers: [poolDir],
        }, () => this.pool.refillSoon());
      },
    };
  }

  /** Restores (or cold-boots) one guest for `inputs` with the VM settings `vm`. */
  private async restore(inputs: SandboxInputs, vm: VmOptions, requireWarm = false): Promise<{ instance: SandboxInstance; files: VmJobFiles; ended: () => boolean; kill: () => void }> {
    const image = this.opts.image ?? requireBootImage();
    const accel = this.accel ?? (await chooseAccelerator(image)).accel;
    this.accel = accel;
    const notes: string[] = [];
    let template: WarmTemplate | undefined;
    if (this.warm) {
      try {
        template = await warmTemplate(image, inputs, accel, vm);
        notes.push(`[pyti] restored from warm template ${template.key.slice(0, 16)} (built ${template.builtAt}); the boot that made it:\n${template.bootConsole}\n[pyti] restored\n`);
      } catch (err) {
        if (requireWarm) throw err;
        notes.push(`[pyti] warm start unavailable, cold boot: ${(err as Error).message}\n`);
      }
    }
    const files: VmJobFiles = await prepareVmDisks(inputs, image.rootDisk, { overlayFrom: template?.overlay, scratchFrom: template?.scratch, scratchBytes: scratchDiskBytes(vm) });
    // A restore waits (`-incoming defer`) until the host is on the agent's channel: a guest that
    // resumed with no host there would read end-of-file on its port, and its agent would end.
    const qmpPath = join(files.dir, 'qmp.sock');
    const stateFd = template ? openSync(template.state, 'r') : undefined;
    const args = [...qemuArgs(image, files, accel, vm), ...(template ? ['-incoming', 'defer', '-qmp', `unix:${qmpPath},server=on,wait=off`] : [])];
    const proc = startQemu(args, stateFd);
    if (stateFd !== undefined) closeSync(stateFd);
    let socket: net.Socket | undefined;
    try {
      socket = await connectAgentSocket(files.agentSocket, proc.ended);
      if (template) {
        const qmp = await QmpClient.connect(qmpPath);
        try {
          await qmp.execute('migrate-incoming', { uri: 'fd:3' }); // the state file, QEMU's fd 3
          await resumeWhenLoaded((c) => qmp.execute(c)); // it was saved paused
        } finally {
          qmp.close();
        }
      }
    } catch (err) {
      socket?.destroy();
      proc.kill();
      await proc.exited;
      removeVmDisks(files);
      throw new Error(`qemu: ${(err as Error).message}\n${proc.log.toString().slice(-2000)}`);
    }
    // The console file goes with the job's files: keep its last text when they are removed.
    let kept: string | undefined;
    const console = { toString: () => kept ?? `${notes.join('')}${proc.log.toString()}${consoleTail(files.consoleLog)}` };
    const instance = vmInstance(socket, console, proc.exited, proc.kill, () => {
      kept = console.toString();
      removeVmDisks(files);
    }, Number(process.env.PYTI_VM_GRACE_MS ?? 3000));
    return { instance, files, ended: proc.ended, kill: proc.kill };
  }
}
