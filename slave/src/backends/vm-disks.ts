/**
 * The per-job disks of the VM backends: a copy-on-write qcow2 overlay over the cached root disk
 * (the job's writes land there and are deleted with it: the design's rollback), a read-only ext4
 * input disk holding the distribution, the wheelhouse, the agent and the task helpers, built with
 * `mkfs.ext4 -d` (no mounting on the host), and an empty ext4 scratch disk for the guest's `/tmp`,
 * `/work` and home (on a disk rather than in guest memory: a package that fills them fills a disk,
 * not the guest's RAM).
 */
import { closeSync, copyFileSync, cpSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runTool } from '@pyti/images';
import { PytiError } from '@pyti/vm-agent';
import type { SandboxInputs } from './backend.js';

/**
 * The input disk's size as the guest sees it, the same for every job (a sparse file: only what it
 * holds takes space). It must not vary: a warm guest restored from a template keeps the disk size
 * its kernel read at boot, and a larger disk would not mount.
 */
export const INPUT_DISK_BYTES = 32 * 1024 ** 3;

/** The disks and sockets of one VM job, all under `dir` (inside the job directory). */
export interface VmJobFiles {
  dir: string;
  overlay: string;
  inputDisk: string;
  /** The empty scratch disk (raw, sparse ext4) for the guest's /tmp, /work and home. */
  scratchDisk: string;
  /** The UNIX socket QEMU listens on for the agent's virtio-serial port. */
  agentSocket: string;
  /** Where QEMU writes the guest's virtio console (hvc0): init and agent messages. */
  consoleLog: string;
}

/** Bytes and entries (files and directories) of a tree. */
function treeSize(path: string): { bytes: number; entries: number } {
  const st = statSync(path);
  if (!st.isDirectory()) return { bytes: st.size, entries: 1 };
  return readdirSync(path).reduce((n, name) => {
    const t = treeSize(join(path, name));
    return { bytes: n.bytes + t.bytes, entries: n.entries + t.entries };
  }, { bytes: 4096, entries: 1 });
}

/** How a job's disks are made. */
export interface VmDiskOptions {
  /** Copy this overlay (a warm template's, itself over the root disk) instead of making an empty one. */
  overlayFrom?: string;
  /** The input disk's size (default INPUT_DISK_BYTES); it must equal the warm template's. */
  inputDiskBytes?: number;
  /** The scratch disk's size (default 6 GiB); it must equal the warm template's. */
  scratchBytes?: number;
  /**
   * Copy this scratch disk (a warm template's: empty of any job, mounted by the saved guest) instead of
   * making an empty one. A restored guest finds its scratch disk as its template left it.
   */
  scratchFrom?: string;
}

/** Copies a sparse disk image keeping its holes (a 6 GiB scratch disk holds a few MB). */
export async function copySparseDisk(from: string, to: string): Promise<void> {
  await runTool('cp', ['--sparse=always', from, to]);
}

/** The input disk's parts: top-level directory → host source. */
function inputParts(inputs: SandboxInputs): [string, string][] {
  return [['input', inputs.inputDir], ['wheelhouse', inputs.wheelhouse], ['agent', inputs.agentDir], ['tasks', inputs.tasksDir]];
}

/** Measures the inputs at their sources; throws PYTI_INPUT_TOO_LARGE when they do not fit a disk of `diskBytes`. */
function measureInputs(inputs: SandboxInputs, diskBytes: number): { bytes: number; entries: number } {
  // Measured at the sources (statSync follows links, as the copy does), so that inputs too large are
  // refused before anything is made or copied.
  let bytes = 0;
  let entries = 0;
  for (const [, from] of inputParts(inputs)) {
    const t = treeSize(from);
    bytes += t.bytes;
    entries += t.entries;
  }
  // Room for ext4's own blocks (group descriptors, bitmaps, inode tables): a few per cent.
  if (bytes * 1.1 + 64 * 1024 ** 2 > diskBytes) {
    throw new PytiError('PYTI_INPUT_TOO_LARGE', `the job's inputs (${(bytes / 1024 ** 3).toFixed(2)} GiB: distribution and wheelhouse) do not fit the VM's input disk (${(diskBytes / 1024 ** 3).toFixed(0)} GiB)`);
  }
  return { bytes, entries };
}

/**
 * The size of the filesystem on the input disk: what the inputs need (a block or more per entry,
 * ext4's own blocks, a margin), not the whole disk. The guest mounts it on the critical path of
 * every job, and under TCG mounting a filesystem of the disk's 32 GiB (256 block groups to read
 * and check) costs tens of milliseconds more than one of a few block groups; mkfs is faster too.
 * The device keeps its fixed size (a warm guest keeps the size it saw at boot).
 */
export function inputFilesystemBytes(bytes: number, entries: number, diskBytes = INPUT_DISK_BYTES): number {
  const MiB = 1024 ** 2;
  return Math.min(Math.floor(diskBytes / MiB), Math.ceil((bytes * 1.1 + entries * 4096 + 64 * MiB) / MiB)) * MiB;
}

/**
 * Writes the job's input filesystem (`input`, `wheelhouse`, `agent`, `tasks`) into `disk`: a sparse
 * file of `diskBytes` holding an ext4 sized to the inputs (inputFilesystemBytes) without a journal,
 * made with `mkfs.ext4 -d` (nothing mounted on the host).
 * An existing file is rewritten **in place** (same inode, same size): a pooled guest restored with a
 * placeholder input disk reads the job's filesystem from it once its agent mounts the disk (at the
 * job's `initialize`, after flushing the device's buffers). `stage` is a scratch directory (removed).
 * Throws PYTI_INPUT_TOO_LARGE when the inputs do not fit.
 */
export async function writeInputDisk(inputs: SandboxInputs, disk: string, stage: string, diskBytes = INPUT_DISK_BYTES): Promise<void> {
  const { bytes, entries } = measureInputs(inputs, diskBytes);
  const fsBytes = inputFilesystemBytes(bytes, entries, diskBytes);
  rmSync(stage, { recursive: true, force: true });
  try {
    for (const [name, from] of inputParts(inputs)) cpSync(from, join(stage, name), { recursive: true, dereference: true });
    // The size set in place (no process: this is on a pooled job's critical path); an existing file keeps its inode.
    const fd = openSync(disk, 'a', 0o600);
    try {
      ftruncateSync(fd, diskBytes);
    } finally {
      closeSync(fd);
    }
    // nodiscard: nothing to give back on a new sparse file, and on a pooled guest's placeholder the
    // blocks mkfs does not overwrite held only that placeholder's empty filesystem.
    await runTool('mkfs.ext4', ['-q', '-F', '-L', 'pyti-input', '-O', '^has_journal', '-m', '0', '-N', String(Math.max(1024, entries + 256)),
      '-E', 'root_owner=0:0,nodiscard', '-d', stage, disk, `${fsBytes / 1024}k`]);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * Makes the job's overlay and input disk under `<jobDir>/vm` (the overlay copied from
 * `opts.overlayFrom` when given: a warm template's). The input disk's top-level directories are
 * `input`, `wheelhouse`, `agent` and `tasks`, as the guest init expects; it is a sparse ext4 of a
 * fixed size without a journal (the guest mounts it read-only). Throws PYTI_INPUT_TOO_LARGE when the
 * inputs do not fit it.
 */
export async function prepareVmDisks(inputs: SandboxInputs, rootDisk: string, opts: VmDiskOptions = {}): Promise<VmJobFiles> {
  const overlayFrom = opts.overlayFrom;
  const diskBytes = opts.inputDiskBytes ?? INPUT_DISK_BYTES;
  measureInputs(inputs, diskBytes); // before anything is made
  const dir = join(inputs.jobDir, 'vm');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: VmJobFiles = {
    dir, overlay: join(dir, 'overlay.qcow2'), inputDisk: join(dir, 'input.ext4'), scratchDisk: join(dir, 'scratch.ext4'), agentSocket: join(dir, 'agent.sock'),
    consoleLog: join(dir, 'console.log'),
  };
  // A warm template's overlay (itself over rootDisk) is copied; else a fresh, empty overlay.
  if (overlayFrom) copyFileSync(overlayFrom, files.overlay);
  else await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', rootDisk, '-F', 'qcow2', files.overlay]);
  await writeInputDisk(inputs, files.inputDisk, join(dir, 'input-stage'), diskBytes);
  if (opts.scratchFrom) await copySparseDisk(opts.scratchFrom, files.scratchDisk);
  else await makeScratchDisk(files.scratchDisk, opts.scratchBytes ?? 6 * 1024 ** 3);
  return files;
}

/**
 * An empty scratch disk: sparse and without a journal (it dies with the job), 3 MB on the host until
 * the guest writes. 1 % is reserved for root, i.e. the agent: a package that fills the disk (tasks
 * run as other users) must not keep the agent from making the next tasks' directories. Its inode
 * tables are marked zeroed (the new sparse file reads as zeros): otherwise the guest kernel zeroes
 * them in the background after mounting it (ext4lazyinit: about 100 MB of writes under TCG), which a
 * warm template saved mid-way hands on to every restored guest, slowing its job's start.
 */
async function makeScratchDisk(path: string, bytes: number): Promise<void> {
  await runTool('truncate', ['-s', String(bytes), path]);
  await runTool('mkfs.ext4', ['-q', '-F', '-L', 'pyti-scratch', '-O', '^has_journal', '-m', '1', '-E', 'root_owner=0:0,lazy_itable_init=1,nodiscard,assume_storage_prezeroed=1', path]);
}

/** Deletes the job's VM files (overlay, input disk, socket). Idempotent. */
export function removeVmDisks(files: VmJobFiles): void {
  rmSync(files.dir, { recursive: true, force: true });
}
