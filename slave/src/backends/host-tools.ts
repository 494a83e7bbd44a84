/** Checks for the host programs a backend needs. */
import { spawnSync } from 'node:child_process';

/** Whether `cmd args` runs and exits 0 (e.g. `qemu-img --version`). */
export function commandWorks(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10000 });
  return !r.error && r.status === 0;
}
