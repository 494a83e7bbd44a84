/**
 * A sandbox that is one host process speaking the agent protocol on its stdin/stdout (bubblewrap,
 * and the unisolated chroot used by benchmarks).
 */
import { spawn } from 'node:child_process';
import { StreamMessageReader, StreamMessageWriter } from '@pyti/vm-agent';
import type { SandboxInstance } from './backend.js';
import { BoundedLog } from './bounded-log.js';
import { killProcessGroup } from '@pyti/common';
import type { SandboxUids } from './sandbox-uids.js';

/** Largest single message accepted from the guest. */
export const MAX_GUEST_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Starts `argv` as the sandbox. `uids`, when given, are the sandbox's task uids: released once the
 * sandbox has ended (or could not start), and asked at the end whether they were signalled from outside.
 */
export function spawnProcessSandbox(argv: string[], env: Record<string, string>, uids?: SandboxUids): SandboxInstance {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env, detached: true });
  const log = new BoundedLog();
  child.stderr!.on('data', (d: Buffer) => log.append(d.toString('utf8')));
  // A host-side EPIPE when the guest died is reported through `exited`, not thrown.
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on('error', (err) => {
      log.append(`\nspawn failed: ${err.message}\n`);
      resolve({ code: null, signal: null });
    });
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  // The range stays held until the sandbox (its pid namespace, and so every task process) has ended.
  void exited.then(() => uids?.release());
  let disposed = false;
  return {
    reader: new StreamMessageReader(child.stdout!, MAX_GUEST_MESSAGE_BYTES),
    writer: new StreamMessageWriter(child.stdin!),
    console: () => log.toString(),
    exited,
    uids: uids && { base: uids.base, count: uids.count },
    outsideKill: uids && (() => uids.outsideKill()),
    async dispose() {
      if (disposed) return exited.then(() => undefined);
      disposed = true;
      if (child.exitCode === null && child.signalCode === null) killProcessGroup(child.pid);
      await exited;
    },
  };
}
