/**
 * A QEMU process as the backends start it: in its own process group, under
 * `setpriv --pdeathsig KILL` (it dies with the slave, even when the slave is killed outright), its
 * stdout and stderr (the serial console, QEMU's messages) kept in a bounded log.
 */
import { spawn } from 'node:child_process';
import { BoundedLog } from './bounded-log.js';
import { killProcessGroup } from '@pyti/common';

export interface VmProcess {
  /** Serial console and QEMU's own messages (capped). */
  log: BoundedLog;
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Whether QEMU has ended (or never started). */
  ended(): boolean;
  /** Kills QEMU now (idempotent). */
  kill(): void;
}

/**
 * Starts `qemu-system-x86_64 args`. `inheritFd`, when given, becomes the VM's fd 3 (e.g. a saved
 * state for `-incoming fd:3`); the caller may close its copy once this returns.
 */
export function startQemu(args: string[], inheritFd?: number): VmProcess {
  const log = new BoundedLog();
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'qemu-system-x86_64', ...args], {
    stdio: ['ignore', 'pipe', 'pipe', ...(inheritFd !== undefined ? [inheritFd] : [])],
    detached: true, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  let ended = false;
  child.stdout!.on('data', (d: Buffer) => log.append(d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => log.append(d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on('error', (err) => {
      log.append(`\nspawn failed: ${err.message}\n`);
      ended = true;
      resolve({ code: null, signal: null });
    });
    child.on('close', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    });
  });
  return {
    log, exited, ended: () => ended,
    kill: () => {
      if (!ended) killProcessGroup(child.pid);
    },
  };
}
