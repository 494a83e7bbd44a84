/**
 * The VM settings of one job's guest (the backend's own settings, else the size chosen for the plan,
 * else the defaults) and the key under which waiting guests of those settings are pooled.
 */
import { statSync } from 'node:fs';
import { cpus as hostCpus } from 'node:os';
import { join } from 'node:path';
import type { VmOptions } from './qemu-command.js';

/** A guest size as a plan asks for it (SandboxInputs.guest). */
export interface GuestSizeOptions {
  cpus: number;
  memoryMiB: number;
}

/** Guest memory (MiB) when nothing chose one. */
export const DEFAULT_GUEST_MIB = 1536;

/**
 * The VM settings for a job: `cpus` and `memoryMiB` the backend was configured with win (the
 * operator pinned them), then the plan's size, then the defaults (2 vCPUs, or 1 on a one-core host;
 * 1536 MiB). Always concrete numbers, so that equal guests have equal template and pool keys.
 */
export function guestOptions(opts: VmOptions, size?: GuestSizeOptions): VmOptions {
  return {
    ...opts,
    cpus: opts.cpus ?? size?.cpus ?? Math.min(2, hostCpus().length),
    memoryMiB: opts.memoryMiB ?? size?.memoryMiB ?? DEFAULT_GUEST_MIB,
  };
}

/** The pool key of a guest: its VM settings and the agent bundle it runs (path, size, mtime). */
export function poolKey(vm: VmOptions, agentDir: string): string {
  let agent = 'missing';
  try {
    const st = statSync(join(agentDir, 'agent.mjs'));
    agent = `${agentDir}:${st.size}:${st.mtimeMs}`;
  } catch {
    /* no agent: the restore fails, and says why */
  }
  return JSON.stringify({ cpus: vm.cpus, memoryMiB: vm.memoryMiB, tmpBytes: vm.tmpBytes, workBytes: vm.workBytes, machine: vm.machine ?? 'microvm', agent });
}
