/** Host-side process helpers the backends share: tool checks, liveness and killing process groups. */
import { spawnSync } from 'node:child_process';

/** Whether `cmd args` runs and exits 0 (e.g. `qemu-img --version`). */
export function commandWorks(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10000 });
  return !r.error && r.status === 0;
}

/** Whether a process with this pid exists (one we may not signal counts: EPERM). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILLs the process group led by `pid` (a child spawned `detached`); a group already gone is fine. */
export function killProcessGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
