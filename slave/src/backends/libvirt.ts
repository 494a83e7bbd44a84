/**
 * The libvirt backend: the QEMU backend's guest, run by libvirtd. One fresh **transient** domain
 * per job (`pyti-<random hex>`), booted directly from the cached kernel and initramfs over a
 * throwaway qcow2 overlay, with the job's read-only input disk, **no `<interface>` at all** (no
 * network device), the agent's JSON-RPC on a virtio-serial channel whose UNIX socket libvirt creates
 * on the host, and the guest's UART and virtio console logged by virtlogd. The domain's XML is built
 * in libvirt-domain.ts. libvirt is driven with `virsh` (the npm package `libvirt` does not compile
 * on Node 20).
 *
 * **Lifetime.** Each job's domain is created by a `virsh` shell that lives as long as the job
 * (`create --autodestroy`, then `event --loop` for its lifecycle events): libvirtd destroys an
 * autodestroy domain when the connection that created it closes, and the shell runs under
 * `setpriv --pdeathsig KILL`, so a slave that is killed takes its domains with it, as the QEMU
 * backend's `--pdeathsig` does for QEMU. dispose() destroys the domain (`virsh destroy`; a
 * transient domain is then gone, nothing to undefine), waits until libvirt has let go of it, and
 * deletes the overlay, the input disk, the socket, the logs and libvirt's per-domain QEMU log.
 * Before each start, a sweep destroys (and undefines, if someone defined them) `pyti-*` domains
 * whose job directory is gone or whose slave process is dead, and deletes leftover job files.
 *
 * **Warm starts** (libvirt-warm.ts, on unless `warm: false` or PYTI_VM_WARM=0): the first job
 * cold-boots a template domain and migrates it into a state file; every later job's domain is
 * created (still `--autodestroy`) with `-incoming unix:<socket>`, and once the slave is on the agent's
 * channel it streams the state into QEMU.
 *
 * **Files and permissions.** libvirtd runs QEMU as an unprivileged user (`libvirt-qemu` on Debian),
 * and by default chowns every file a domain uses to that user (dynamic_ownership) and back. That is
 * not what PyTI wants: the base image is shared by every job, and a QEMU that owned it could
 * corrupt it for all later jobs; and the cached image lives under root's home, which that user
 * cannot even traverse. So the domain carries `<seclabel model='dac' relabel='no'>` with the user
 * and group libvirt reports (`virsh capabilities`): QEMU still runs as that user, and libvirt
 * relabels nothing. PyTI sets the permissions itself, least privilege first:
 * - the boot image (kernel, initramfs, root disk) is staged once under `stateDir` (hard links when
 *   on the same filesystem, else copies), root-owned and world-readable: QEMU reads it, cannot
 *   write it;
 * - each job's files live under `stateDir/jobs/<domain>/` (not in the caller's job directory,
 *   whose parents QEMU may not traverse: mkdtemp makes them 0700): the overlay is owned by the QEMU
 *   user (mode 0600), the input disk is root-owned and group-readable by it (0640), the
 *   directories are 0711 (traverse, not list);
 * - the agent socket and the console logs are created by libvirtd and virtlogd (root) and handed to
 *   QEMU as open descriptors, so QEMU needs no access to them by path.
 * When QEMU runs as the slave's own user (a `qemu.conf` with `user = "root"`, or `qemu:///session`)
 * none of this is needed and the cached image is used in place. AppArmor, where enabled, is left
 * to libvirt (virt-aa-helper allows exactly the files the XML names).
 *
 * **URI.** `qemu:///system` by default, else `opts.uri` or `$LIBVIRT_DEFAULT_URI`. Only URIs of
 * this host are accepted: the agent channel is a UNIX socket, the disks are made here, and the logs
 * are read here. A remote libvirtd (`qemu+ssh://host/system`) would need the state directory shared
 * at the same path on both hosts *and* a way to reach the socket on the remote host (an
 * `ssh -L` forward of it, or a TCP channel on a private network); probe() says so.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync, chownSync, closeSync, constants, copyFileSync, existsSync, fstatSync, linkSync, mkdirSync, openSync,
  readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Socket } from 'node:net';
import { ensureAgentBundle, requireBootImage, type BootImageInfo } from '@pyti/images';
import { chooseAccelerator, type Accelerator } from './accelerator.js';
import type { Backend, BackendCapabilities, SandboxInputs, SandboxInstance } from './backend.js';
import { BoundedLog } from './bounded-log.js';
import { commandWorks, killProcessGroup, pidAlive } from '@pyti/common';
import { dacBaseLabel, domainXml, readPytiMeta, type PytiDomainMeta } from './libvirt-domain.js';
import { DEFAULT_LIBVIRT_URI, isLocalUri, libvirtUnreachable, virsh, virshError } from './libvirtd.js';
import { connectAgentSocket, vmInstance } from './qemu.js';
import { kernelCmdline, scratchDiskBytes, type VmOptions } from './qemu-command.js';
import { INPUT_DISK_BYTES, prepareVmDisks, removeVmDisks, writeInputDisk, type VmJobFiles } from './vm-disks.js';
import { GuestPool, onFirstMessage, primeWaitingGuest, type PooledGuest, type PoolStatus } from './guest-pool.js';
import { guestOptions, poolKey, type GuestSizeOptions } from './pool-key.js';
import { createJobDir, removeJobDir } from '../job-dir.js';
import { feedIncoming, resumeWhenLoaded } from './vm-migration.js';
import { libvirtWarmTemplate, pruneLibvirtTemplates, type LibvirtWarmTemplate } from './libvirt-warm.js';

/** Where staged boot images and per-job files go by default (libvirt's own image directory). */
export const DEFAULT_LIBVIRT_STATE_DIR = '/var/lib/libvirt/images/pyti';

export interface LibvirtBackendOptions extends Omit<VmOptions, 'machine'> {
  /** Connection URI (default `$LIBVIRT_DEFAULT_URI`, else `qemu:///system`); this host only. */
  uri?: string;
  /** Staged boot images and per-job files (default /var/lib/libvirt/images/pyti). */
  stateDir?: string;
  image?: BootImageInfo;
  /** Restore each job from a saved booted guest (default true; PYTI_VM_WARM=0 turns it off). */
  warm?: boolean;
  /**
   * Guests kept restored and waiting for the next jobs (guest-pool.ts; default 0: none). Each waiting
   * guest costs about 300 MB of host memory. Needs `warm` (a pool holds restored guests).
   */
  pool?: number;
}

/** The boot image's files as QEMU sees them (staged under stateDir when QEMU is not the slave's user). */
interface BootFiles {
  kernel: string;
  initrd: string;
  rootDisk: string;
  /** The staging directory, when staged. */
  dir: string | undefined;
}

/** A started job: the SandboxInstance, plus the domain's name and the virsh shell holding it. */
export interface LibvirtInstance extends SandboxInstance {
  readonly domain: string;
  /** The pid of the `virsh` shell whose connection keeps the autodestroy domain alive. */
  readonly virshPid: number | undefined;
  /** Where the job's disks, socket and logs are (removed by dispose). */
  readonly vmRoot: string;
}

const DOMAIN_NAME = /^pyti-[0-9a-f]{12}$/;
const CONSOLE_TAIL = 64 * 1024;
/** Leftover job directories younger than this are left alone by the sweep (a start may be making them). */
const ORPHAN_AGE_MS = 10 * 60 * 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The last `cap` bytes of a file and of its rotated predecessor (`<path>.0`, virtlogd's). */
function fileTail(path: string, cap = CONSOLE_TAIL): string {
  const read = (p: string, n: number): { text: string; size: number } => {
    let fd: number | undefined;
    try {
      fd = openSync(p, 'r');
      const size = fstatSync(fd).size;
      const len = Math.min(size, n);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      return { text: buf.toString('utf8'), size };
    } catch {
      return { text: '', size: 0 };
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  };
  const cur = read(path, cap);
  const prev = cur.size < cap ? read(`${path}.0`, cap - cur.size) : { text: '', size: 0 };
  const dropped = cur.size + prev.size - cur.text.length - prev.text.length;
  return `${dropped > 0 ? `[… ${dropped} earlier bytes of ${path.split('/').pop()} dropped]\n` : ''}${prev.text}${cur.text}`;
}

/** libvirt's own log of a domain's QEMU (its command line and stderr), for `qemu:///system`. */
function qemuLogPath(uri: string, name: string): string | undefined {
  return /^qemu(\+unix)?:\/\/\/system/.test(uri) ? `/var/log/libvirt/qemu/${name}.log` : undefined;
}

function ensureDir(path: string, mode: number): void {
  mkdirSync(path, { recursive: true, mode });
  chmodSync(path, mode);
}

/** The job's exit as SandboxInstance reports it, from libvirt's reason for stopping. */
function exitFor(reason: string | undefined): { code: number | null; signal: string | null } {
  if (reason === 'Shutdown') return { code: 0, signal: null };
  if (reason === 'Destroyed') return { code: null, signal: 'SIGKILL' };
  if (reason === 'Crashed' || reason === 'Failed') return { code: 1, signal: null };
  return { code: null, signal: null };
}

export class LibvirtBackend implements Backend {
  readonly name = 'libvirt';
  readonly uri: string;
  readonly stateDir: string;
  private accel?: Accelerator;
  /** The uid:gid QEMU runs as when it is not ours (then files are staged and chowned), else null. */
  private runAs?: { uid: number; gid: number } | null;
  /** `virsh version` (libvirt's and QEMU's), asked once: part of the warm template key. */
  private versions?: string;
  private readonly pool: GuestPool;

  constructor(private readonly opts: LibvirtBackendOptions = {}) {
    this.uri = opts.uri ?? process.env.LIBVIRT_DEFAULT_URI ?? DEFAULT_LIBVIRT_URI;
    this.stateDir = opts.stateDir ?? DEFAULT_LIBVIRT_STATE_DIR;
    this.pool = new GuestPool(this.warm ? opts.pool ?? 0 : 0);
  }

  private get warm(): boolean {
    return this.opts.warm ?? process.env.PYTI_VM_WARM !== '0';
  }

  /** The VM settings of a job's guest (`machine` is always `pc` here: libvirt cannot define microvm). */
  private vmFor(size?: GuestSizeOptions): VmOptions {
    return guestOptions({ ...this.opts, machine: 'pc' }, size);
  }

  /** The pool of waiting guests: its size and how many are ready now. */
  poolStatus(): PoolStatus {
    return this.pool.status();
  }

  /**
   * Starts filling the pool with guests of `size` (default: the backend's own settings) and resolves
   * once it is full; at once when the pool size is 0. Rejects if a restore fails.
   */
  async poolReady(size?: GuestSizeOptions): Promise<void> {
    if (this.pool.size === 0) return;
    const agentDir = await ensureAgentBundle();
    const vm = this.vmFor(size);
    this.pool.want(poolKey(vm, agentDir), () => this.pooledGuest(vm, agentDir));
    await this.pool.ready();
  }

  /** Ends every waiting guest (their domains destroyed) and stops refilling. Jobs already started are not touched. */
  closePool(): Promise<void> {
    return this.pool.close();
  }

  get capabilities(): BackendCapabilities {
    return { isolation: 'vm', network: 'none', rollback: true, ...(this.accel ? { accelerator: this.accel } : {}) };
  }

  async probe(): Promise<string | null> {
    if (!isLocalUri(this.uri)) {
      return `libvirt URI ${this.uri} is not on this host: the agent's channel is a UNIX socket on the libvirt host, and the job's disks and logs are made and read here (use qemu:///system)`;
    }
    if (!commandWorks('qemu-img', ['--version'])) return 'qemu-img is not installed: apt-get install qemu-utils';
    if (!commandWorks('mkfs.ext4', ['-V'])) return 'mkfs.ext4 is not installed: apt-get install e2fsprogs';
    if (!commandWorks('setpriv', ['--version'])) return 'setpriv is not installed: apt-get install util-linux';
    const why = await libvirtUnreachable(this.uri);
    if (why) return why;
    try {
      const image = this.opts.image ?? requireBootImage();
      this.accel = (await chooseAccelerator(image)).accel;
      await this.qemuIdentity();
    } catch (err) {
      return (err as Error).message;
    }
    return null;
  }

  /** Who QEMU runs as (from the DAC base label in `virsh capabilities`): null when it is us. */
  private async qemuIdentity(): Promise<{ uid: number; gid: number } | null> {
    if (this.runAs !== undefined) return this.runAs;
    const caps = await virsh(this.uri, ['capabilities']);
    if (!caps.ok) throw new Error(`virsh capabilities failed: ${virshError(caps)}`);
    const label = dacBaseLabel(caps.stdout);
    this.runAs = label && label.uid !== process.getuid?.() ? label : null;
    return this.runAs;
  }

  /**
   * The boot image where QEMU's user can read it: staged once per image build under
   * `stateDir/boot-<hash>-<build>/`, made in a temporary directory and renamed into place.
   */
  private stageImage(image: BootImageInfo, inUse: Set<string>): { kernel: string; initrd: string; rootDisk: string; dir: string } {
    const key = `boot-${image.hash.slice(0, 16)}-${createHash('sha256').update(image.builtAt).digest('hex').slice(0, 8)}`;
    const dir = join(this.stateDir, key);
    const paths = { kernel: join(dir, 'vmlinux'), initrd: join(dir, 'initrd.cpio'), rootDisk: join(dir, 'root.qcow2'), dir };
    if (existsSync(join(dir, 'staged.json'))) return paths;
    ensureDir(this.stateDir, 0o711);
    const tmp = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    mkdirSync(tmp, { mode: 0o755 });
    try {
      for (const [from, to] of [[image.kernel, 'vmlinux'], [image.initrd, 'initrd.cpio'], [image.rootDisk, 'root.qcow2']] as const) {
        const dst = join(tmp, to);
        try {
          linkSync(from, dst); // same filesystem: free, and the same bytes as the cache
        } catch {
          copyFileSync(from, dst, constants.COPYFILE_FICLONE);
        }
        if ((statSync(dst).mode & 0o444) !== 0o444) chmodSync(dst, 0o644);
      }
      writeFileSync(join(tmp, 'staged.json'), JSON.stringify({ hash: image.hash, builtAt: image.builtAt, from: image.rootDisk }, null, 1));
      chmodSync(tmp, 0o755);
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(join(dir, 'staged.json'))) throw err; // else another process staged it first
    }
    // Older builds' staged images, unless a live domain still uses one; stagings that died half-way.
    for (const d of readdirSync(this.stateDir)) {
      const p = join(this.stateDir, d);
      if (!d.startsWith('boot-') || p === dir || inUse.has(p)) continue;
      if (!d.includes('.tmp-') || Date.now() - statSync(p).mtimeMs > ORPHAN_AGE_MS) rmSync(p, { recursive: true, force: true });
    }
    return paths;
  }

  /**
   * Destroys PyTI's stale domains on this connection (those whose job directory is gone, or whose
   * slave on this host is dead), undefines them if they were defined, and deletes their files and
   * leftover job directories. Returns the staged image directories live domains still use.
   */
  async sweepStale(): Promise<{ destroyed: string[]; inUse: Set<string> }> {
    const inUse = new Set<string>();
    const destroyed: string[] = [];
    const list = await virsh(this.uri, ['list', '--all', '--name']);
    if (!list.ok) return { destroyed, inUse };
    const names = list.stdout.split('\n').map((s) => s.trim()).filter((s) => DOMAIN_NAME.test(s));
    const me = hostname();
    for (const name of names) {
      const xml = await virsh(this.uri, ['dumpxml', name]);
      const meta = xml.ok ? readPytiMeta(xml.stdout) : undefined;
      if (!meta) continue; // not made by PyTI, or gone meanwhile
      const stale = !existsSync(meta.jobDir) || (meta.host === me && !pidAlive(meta.pid));
      if (!stale) {
        if (meta.bootDir) inUse.add(meta.bootDir);
        continue;
      }
      await virsh(this.uri, ['destroy', name]);
      await virsh(this.uri, ['undefine', name]); // only succeeds for a defined (persistent) domain
      this.removeJobFiles(name, meta);
      destroyed.push(name);
    }
    // Job directories and libvirt QEMU logs with no domain, old enough not to be a start in progress.
    const live = new Set(names);
    const old = (p: string): boolean => {
      try {
        return Date.now() - statSync(p).mtimeMs > ORPHAN_AGE_MS;
      } catch {
        return false;
      }
    };
    const jobs = join(this.stateDir, 'jobs');
    if (existsSync(jobs)) for (const d of readdirSync(jobs)) if (DOMAIN_NAME.test(d) && !live.has(d) && old(join(jobs, d))) rmSync(join(jobs, d), { recursive: true, force: true });
    const logDir = '/var/log/libvirt/qemu';
    if (qemuLogPath(this.uri, 'x') && existsSync(logDir)) {
      for (const f of readdirSync(logDir)) {
        const name = f.replace(/\.log(\.\d+)?$/, '');
        if (DOMAIN_NAME.test(name) && !live.has(name) && old(join(logDir, f))) rmSync(join(logDir, f), { force: true });
      }
    }
    return { destroyed, inUse };
  }

  private removeJobFiles(name: string, meta: Pick<PytiDomainMeta, 'vmRoot'>): void {
    // Only ever a directory of ours: stateDir/jobs/<this domain's name>.
    if (meta.vmRoot === join(this.stateDir, 'jobs', name)) rmSync(meta.vmRoot, { recursive: true, force: true });
    const log = qemuLogPath(this.uri, name);
    if (log) for (const f of [log, `${log}.0`]) rmSync(f, { force: true });
  }

  async start(inputs: SandboxInputs): Promise<LibvirtInstance> {
    const vm = this.vmFor(inputs.guest);
    // A waiting domain of the pool when there is one; else (or when its claim failed) a domain of its own.
    const pooled = await this.pool.claim<LibvirtInstance>(poolKey(vm, inputs.agentDir), () => this.pooledGuest(vm, inputs.agentDir), inputs);
    if (pooled) return pooled;
    return this.restore(inputs, vm);
  }

  /**
   * A domain for the pool: restored with a placeholder input disk of the fixed size (its job directory
   * one of its own, so the sweep knows it is alive), which claim() rewrites in place (same inode, owner
   * and mode) with the job's filesystem.
   */
  private async pooledGuest(vm: VmOptions, agentDir: string): Promise<PooledGuest> {
    const poolDir = createJobDir();
    const empty = join(poolDir, 'empty');
    mkdirSync(empty);
    let inst: LibvirtInstance;
    try {
      inst = await this.restore({ inputDir: empty, wheelhouse: empty, agentDir, tasksDir: empty, rootfs: '', jobDir: poolDir }, vm, true);
    } catch (err) {
      removeJobDir(poolDir);
      throw err;
    }
    primeWaitingGuest(inst);
    let ended = false;
    void inst.exited.then(() => (ended = true));
    const readyAt = Date.now();
    const release = async (): Promise<void> => {
      await inst.dispose();
      removeJobDir(poolDir);
    };
    let claimed = false;
    const vmDir = join(inst.vmRoot, 'vm');
    return {
      key: poolKey(vm, agentDir), readyAt, ended: inst.exited,
      alive: () => !ended && !claimed,
      discard: async () => {
        await virsh(this.uri, ['destroy', inst.domain]); // a guest that never had a job has nothing to finish
        await release();
      },
      claim: async (inputs) => {
        if (claimed) throw new Error('a pooled guest serves one job only');
        claimed = true;
        const t0 = Date.now();
        await writeInputDisk(inputs, join(vmDir, 'input.ext4'), join(vmDir, 'input-stage'));
        const note = `[pyti] taken from the guest pool (waited ${((t0 - readyAt) / 1000).toFixed(1)} s; input disk written in ${Date.now() - t0} ms)\n`;
        // The next guest is restored once this one has said hello (not while it is starting).
        return onFirstMessage(Object.assign({}, inst, { console: () => `${inst.console()}${note}`, dispose: release }), () => this.pool.refillSoon()) as LibvirtInstance;
      },
    };
  }

  /** Restores (or cold-boots) one domain for `inputs` with the VM settings `vm`. */
  private async restore(inputs: SandboxInputs, vm: VmOptions, requireWarm = false): Promise<LibvirtInstance> {
    const image = this.opts.image ?? requireBootImage();
    const accel = this.accel ?? (await chooseAccelerator(image)).accel;
    this.accel = accel;
    const runAs = await this.qemuIdentity();
    const { inUse } = await this.sweepStale();
    const boot = runAs ? this.stageImage(image, inUse) : { kernel: image.kernel, initrd: image.initrd, rootDisk: image.rootDisk, dir: undefined };
    let restore: { template: LibvirtWarmTemplate; note: string } | undefined;
    let note = '';
    if (this.warm) {
      try {
        const key = await this.warmKey(image, boot, accel, runAs, inputs.agentDir, vm);
        const dir = join(this.stateDir, `warm-${key.slice(0, 16)}`);
        ensureDir(this.stateDir, 0o711);
        pruneLibvirtTemplates(this.stateDir, dir);
        const template = await libvirtWarmTemplate(dir, key, boot.dir ?? dirname(boot.rootDisk), inputs.agentDir, inputs.tasksDir, {
          launch: (i) => this.launch(i, boot, accel, runAs, vm),
          monitor: (domain, command, args) => this.monitor(domain, command, args),
          destroy: async (domain) => void (await virsh(this.uri, ['destroy', domain])),
          runAs,
        });
        restore = { template, note: `[pyti] restored from warm template ${key.slice(0, 16)} (built ${template.builtAt}); the boot that made it:\n${template.bootConsole}\n[pyti] restored\n` };
      } catch (err) {
        if (requireWarm) throw err;
        note = `[pyti] warm start unavailable, cold boot: ${(err as Error).message}\n`;
      }
    }
    return this.launch(inputs, boot, accel, runAs, vm, restore?.template, restore?.note ?? note);
  }

  /**
   * The warm template key: the domain XML of a neutral job (placeholder name and paths) with the
   * boot image's files, the agent bundle, the input disk's size and libvirt's and QEMU's versions.
   */
  private async warmKey(image: BootImageInfo, boot: BootFiles, accel: Accelerator, runAs: { uid: number; gid: number } | null, agentDir: string, vm: VmOptions): Promise<string> {
    this.versions ??= await virsh(this.uri, ['version']).then((r) => (r.ok ? r.stdout.trim() : Promise.reject(new Error(`virsh version: ${virshError(r)}`))));
    const xml = this.jobXml('pyti-000000000000', { dir: '/j', overlay: '/j/o', inputDisk: '/j/i', scratchDisk: '/j/s', agentSocket: '/j/a', consoleLog: '/j/c' }, boot, accel, runAs,
      { jobDir: '/j', vmRoot: '/j', pid: 0, host: '' }, vm, ['-incoming', 'unix:/j/s']);
    return createHash('sha256').update(JSON.stringify({
      xml, image: image.hash, builtAt: image.builtAt, rootDisk: boot.rootDisk, versions: this.versions, inputDisk: INPUT_DISK_BYTES,
      agent: createHash('sha256').update(readFileSync(join(agentDir, 'agent.mjs'))).digest('hex'), v: 3,
    })).digest('hex');
  }

  /** The domain XML of one job. */
  private jobXml(name: string, files: VmJobFiles, boot: BootFiles, accel: Accelerator, runAs: { uid: number; gid: number } | null, meta: PytiDomainMeta, vm: VmOptions, extraQemuArgs?: string[]): string {
    return domainXml({
      name, type: accel === 'kvm' ? 'kvm' : 'qemu',
      cpus: vm.cpus!, memoryMiB: vm.memoryMiB!,
      kernel: boot.kernel, initrd: boot.initrd, cmdline: kernelCmdline({ ...vm, machine: 'pc' }),
      overlay: files.overlay, inputDisk: files.inputDisk, scratchDisk: files.scratchDisk, agentSocket: files.agentSocket,
      serialLog: join(files.dir, 'serial.log'), consoleLog: join(files.dir, 'console.log'),
      runAs: runAs ?? undefined, meta, extraQemuArgs,
    });
  }

  /** Runs a QMP command on a domain's QEMU through libvirt; resolves to its `return`. */
  private async monitor(domain: string, command: string, args?: Record<string, unknown>): Promise<unknown> {
    const r = await virsh(this.uri, ['qemu-monitor-command', domain, JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })]);
    if (!r.ok) throw new Error(`virsh qemu-monitor-command ${command}: ${virshError(r)}`);
    const msg = JSON.parse(r.stdout) as { return?: unknown; error?: unknown };
    if (msg.error) throw new Error(`QMP ${command}: ${JSON.stringify(msg.error)}`);
    return msg.return;
  }

  /**
   * Starts one job's transient domain: cold-booted, or restored from `template` (its overlay copied,
   * QEMU started with `-incoming` and fed the template's state). `note` opens the console.
   */
  private async launch(inputs: SandboxInputs, boot: BootFiles, accel: Accelerator, runAs: { uid: number; gid: number } | null, vm: VmOptions, template?: LibvirtWarmTemplate, note = ''): Promise<LibvirtInstance> {
    const name = `pyti-${randomBytes(6).toString('hex')}`;
    const vmRoot = join(this.stateDir, 'jobs', name);
    ensureDir(this.stateDir, 0o711);
    ensureDir(join(this.stateDir, 'jobs'), 0o711);
    ensureDir(vmRoot, 0o711);
    const meta: PytiDomainMeta = { jobDir: inputs.jobDir, vmRoot, bootDir: boot.dir, pid: process.pid, host: hostname() };
    let files: VmJobFiles;
    try {
      files = await prepareVmDisks({ ...inputs, jobDir: vmRoot }, boot.rootDisk, { overlayFrom: template?.overlay, scratchFrom: template?.scratch, scratchBytes: scratchDiskBytes(vm) });
    } catch (err) {
      this.removeJobFiles(name, meta);
      throw err;
    }
    const serialLog = join(files.dir, 'serial.log');
    const consoleLog = join(files.dir, 'console.log');
    if (runAs) {
      chmodSync(files.dir, 0o711);
      for (const f of [files.overlay, files.scratchDisk]) {
        chownSync(f, runAs.uid, runAs.gid);
        chmodSync(f, 0o600);
      }
      chownSync(files.inputDisk, 0, runAs.gid);
      chmodSync(files.inputDisk, 0o640);
    }
    // A restore: QEMU listens for the saved guest in a directory only it may write.
    const incoming = template ? join(vmRoot, 'incoming', 'state.sock') : undefined;
    if (incoming) {
      mkdirSync(dirname(incoming), { mode: 0o700 });
      if (runAs) chownSync(dirname(incoming), runAs.uid, runAs.gid);
    }
    const xmlPath = join(vmRoot, 'domain.xml');
    writeFileSync(xmlPath, this.jobXml(name, files, boot, accel, runAs, meta, vm, incoming ? ['-incoming', `unix:${incoming}`] : undefined), { mode: 0o600 });

    const consoleNow = (): string => {
      const log = new BoundedLog();
      log.append(note);
      log.append(fileTail(serialLog));
      log.append(fileTail(consoleLog));
      return log.toString();
    };
    const qemuLogTail = (): string => {
      const p = qemuLogPath(this.uri, name);
      return p ? fileTail(p, 4000).trim() : '';
    };

    // The shell whose connection owns the autodestroy domain, and reports its lifecycle events.
    const shellLog = new BoundedLog(16 * 1024);
    const shell: ChildProcessWithoutNullStreams = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'virsh', '-c', this.uri], {
      stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, LC_ALL: 'C' },
    });
    shell.stdin.on('error', () => undefined);
    let shellClosed = false;
    let created = false;
    let stopReason: string | undefined;
    let onCreate: (err?: Error) => void = () => undefined;
    let onStop: (why: string) => void = () => undefined;
    const creation = new Promise<void>((resolve, reject) => {
      onCreate = (err) => (err ? reject(err) : resolve());
    });
    let out = '';
    shell.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (!created && line.includes(`Domain '${name}' created`)) {
          created = true;
          onCreate();
        }
        const ev = /event 'lifecycle' for domain '([^']+)': Stopped (\w+)/.exec(line);
        if (ev && ev[1] === name) {
          stopReason = ev[2];
          onStop(`stopped: ${ev[2]}`);
        }
      }
    });
    shell.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      shellLog.append(text);
      if (!created && /error:/.test(text)) setTimeout(() => onCreate(new Error(virshError({ ok: false, code: null, stdout: '', stderr: shellLog.toString() }))), 50);
    });
    shell.on('error', (err) => onCreate(new Error(`virsh: ${err.message}`)));
    shell.on('close', () => {
      shellClosed = true;
      onCreate(new Error(`virsh exited: ${shellLog.toString().trim()}`));
      onStop('virsh exited');
    });
    const shellGone = new Promise<void>((resolve) => shell.once('close', () => resolve()));
    /** Kills the shell (its connection closes: libvirtd destroys the domain); resolves once it has exited. */
    const endShell = (): Promise<void> => {
      if (!shellClosed) killProcessGroup(shell.pid);
      return Promise.race([shellGone, new Promise<void>((r) => setTimeout(r, 5000).unref())]);
    };
    shell.stdin.write(`create ${xmlPath} --autodestroy\n`);
    shell.stdin.write(`event --domain ${name} --event lifecycle --loop\n`);

    // exited: once libvirt reports the domain stopped (or the shell or the channel went away), wait
    // until the domain is really gone, so that QEMU has let go of the files.
    let ended = false;
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      let settling = false;
      onStop = (): void => {
        if (settling) return;
        settling = true;
        void (async () => {
          if (!(await this.waitGone(name, 10000))) {
            await virsh(this.uri, ['destroy', name]);
            await endShell();
            await this.waitGone(name, 15000);
          }
          await endShell();
          ended = true;
          resolve(exitFor(stopReason));
        })();
      };
    });

    const fail = async (what: string, err: unknown): Promise<never> => {
      await endShell();
      await virsh(this.uri, ['destroy', name]);
      if (created) await exited;
      const detail = [qemuLogTail(), consoleNow().slice(-2000)].filter(Boolean).join('\n');
      this.removeJobFiles(name, meta);
      throw new Error(`libvirt: ${what}: ${(err as Error).message}${detail ? `\n${detail}` : ''}`);
    };
    // The channel and, for a restore, the saved guest go in while libvirt is still finishing the
    // start (libvirt makes the channel's socket before QEMU runs; QEMU listens for the state from its
    // first moments). The channel first: the guest must find the host on it when it resumes (a port
    // with no host gives the agent end-of-file, and it ends).
    let abandoned = false;
    const gone = (): boolean => ended || abandoned;
    let channelSocket: Socket | undefined;
    const channel = (async (): Promise<Socket> => {
      try {
        channelSocket = await connectAgentSocket(files.agentSocket, gone, 130000);
      } catch (err) {
        throw new Error(`its agent channel did not open: ${(err as Error).message}`);
      }
      if (template && incoming) {
        try {
          await feedIncoming(incoming, template.state, gone, 130000);
        } catch (err) {
          throw new Error(`restoring it from the warm template failed: ${(err as Error).message}`);
        }
      }
      return channelSocket;
    })();
    channel.catch(() => undefined); // awaited below, unless the creation failed first
    let createTimer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([creation, new Promise<never>((_r, reject) => {
        createTimer = setTimeout(() => reject(new Error('no answer from virsh create within 120 s')), 120000);
      })]);
    } catch (err) {
      abandoned = true;
      channelSocket?.destroy();
      return fail(`creating domain ${name} failed`, err);
    } finally {
      clearTimeout(createTimer);
    }
    let socket: Socket;
    try {
      socket = await channel;
      // Saved paused: resumed once QEMU has loaded it (and libvirt has finished the start).
      if (template) await resumeWhenLoaded((c) => this.monitor(name, c)).catch((err: Error) => Promise.reject(new Error(`resuming it failed: ${err.message}`)));
    } catch (err) {
      channelSocket?.destroy();
      return fail(`domain ${name} started but`, err);
    }
    socket.on('close', () => onStop('channel closed'));

    let finalConsole: string | undefined;
    const kill = (): void => {
      if (ended) return;
      void virsh(this.uri, ['destroy', name]).then(endShell);
    };
    const cleanup = (): void => {
      finalConsole = consoleNow();
      void endShell(); // already gone: `exited` waits for it
      removeVmDisks(files);
      this.removeJobFiles(name, meta);
    };
    const instance = vmInstance(socket, { toString: () => finalConsole ?? consoleNow() }, exited, kill, cleanup);
    return Object.assign(instance, { domain: name, virshPid: shell.pid, vmRoot, hostMarkers: [`guest=${name}`, vmRoot] });
  }

  /** Waits until the domain no longer exists (undefining it if it was defined); false on timeout. */
  private async waitGone(name: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await virsh(this.uri, ['domstate', name], 10000);
      if (!r.ok && /failed to get domain|not found/i.test(r.stderr)) return true;
      if (r.ok && /shut off/.test(r.stdout)) {
        await virsh(this.uri, ['undefine', name]);
        continue;
      }
      if (Date.now() > deadline) return false;
      await sleep(200);
    }
  }
}
