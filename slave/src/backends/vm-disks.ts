/**
 * The per-job disks of the VM backends: a copy-on-write qcow2 overlay over the cached root disk
 * (the job's writes land there and are deleted with it: the design's rollback), and a read-only
 * ext4 input disk holding the distribution, the wheelhouse, the agent and the task helpers, built
 * with `mkfs.ext4 -d` (no mounting on the host).
 */
import { copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runTool } from '@pyti/images';
import type { SandboxInputs } from './backend.js';

/** The disks and sockets of one VM job, all under `dir` (inside the job directory). */
export interface VmJobFiles {
  dir: string;
  overlay: string;
  inputDisk: string;
  /** The UNIX socket QEMU listens on for the agent's virtio-serial port. */
  agentSocket: string;
  /** Where QEMU writes the guest's virtio console (hvc0): init and agent messages. */
  consoleLog: string;
}

function treeBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, name) => n + treeBytes(join(path, name)), 4096);
}

/**
 * Makes the job's overlay and input disk under `<jobDir>/vm` (the overlay copied from
 * `overlayFrom` when given: a warm template's). The input disk's top-level
 * directories are `input`, `wheelhouse`, `agent` and `tasks`, as the guest init expects.
 */
export async function prepareVmDisks(inputs: SandboxInputs, rootDisk: string, overlayFrom?: string): Promise<VmJobFiles> {
  const dir = join(inputs.jobDir, 'vm');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: VmJobFiles = {
    dir, overlay: join(dir, 'overlay.qcow2'), inputDisk: join(dir, 'input.ext4'), agentSocket: join(dir, 'agent.sock'),
    consoleLog: join(dir, 'console.log'),
  };
  // A warm template's overlay (itself over rootDisk) is copied; else a fresh, empty overlay.
  if (overlayFrom) copyFileSync(overlayFrom, files.overlay);
  else await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', rootDisk, '-F', 'qcow2', files.overlay]);
  const stage = join(dir, 'input-stage');
  const parts: [string, string][] = [['input', inputs.inputDir], ['wheelhouse', inputs.wheelhouse], ['agent', inputs.agentDir], ['tasks', inputs.tasksDir]];
  let bytes = 0;
  for (const [name, from] of parts) {
    cpSync(from, join(stage, name), { recursive: true, dereference: true });
    bytes += treeBytes(join(stage, name));
  }
  const sizeMiB = Math.ceil((bytes * 1.1) / 1024 ** 2) + 16;
  await runTool('truncate', ['-s', `${sizeMiB}M`, files.inputDisk]);
  await runTool('mkfs.ext4', ['-q', '-F', '-L', 'pyti-input', '-E', 'root_owner=0:0', '-d', stage, files.inputDisk]);
  rmSync(stage, { recursive: true, force: true });
  return files;
}

/** Deletes the job's VM files (overlay, input disk, socket). Idempotent. */
export function removeVmDisks(files: VmJobFiles): void {
  rmSync(files.dir, { recursive: true, force: true });
}
