/**
 * The VM settings of one job's guest (the backend's own settings, else the size chosen for the plan,
 * else the defaults) and the key under which waiting guests of those settings are pooled.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
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

const agentHashes = new Map<string, { stamp: string; hash: string }>();

/** The sha256 of `agentDir/agent.mjs`, read again only when its size or mtime changed. */
function agentHash(agentDir: string): string {
  const file = join(agentDir, 'agent.mjs');
  try {
    const st = statSync(file);
    const stamp = `${st.size}:${st.mtimeMs}`;
    const known = agentHashes.get(file);
    if (known?.stamp === stamp) return known.hash;
    const hash = createHash('sha256').update(readFileSync(file)).digest('hex');
    agentHashes.set(file, { stamp, hash });
    return hash;
  } catch {
    return 'missing'; // the restore fails, and says why
  }
}

/**
 * The pool key of a guest: its VM settings and the agent it runs (by content: the same bundle in
 * another directory is the same agent).
 */
export function poolKey(vm: VmOptions, agentDir: string): string {
  return JSON.stringify({ cpus: vm.cpus, memoryMiB: vm.memoryMiB, tmpBytes: vm.tmpBytes, workBytes: vm.workBytes, machine: vm.machine ?? 'microvm', agent: agentHash(agentDir) });
}
