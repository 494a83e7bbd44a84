/**
 * Where the Windows program shims run from (placeholder `{shims}`): a copy of the tasks' shims
 * (`{tasks}/guest/winshims/*` and the `winshim.py` they load) in `{work}/.pyti-shims`, owned by
 * root and not writable by the tasks. A copy because VMs mount the tasks directory noexec (so a shim
 * there cannot be exec'd) while /work is exec-able in every backend.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { GuestLayout } from './task-executor.js';

/** The directory put first on PATH by the traced tasks (`{shims}`). */
export function shimsDir(L: Pick<GuestLayout, 'work'>): string {
  return join(L.work, '.pyti-shims', 'winshims');
}

/** Copies the shims into shimsDir; returns it, or undefined when the tasks have no shims. */
export function installShims(L: Pick<GuestLayout, 'work' | 'tasks'>): string | undefined {
  const from = join(L.tasks, 'guest', 'winshims');
  if (!existsSync(from)) return undefined;
  const dest = shimsDir(L);
  mkdirSync(dest, { recursive: true, mode: 0o755 });
  chmodSync(join(dest, '..'), 0o755);
  for (const name of readdirSync(from)) {
    copyFileSync(join(from, name), join(dest, name));
    chmodSync(join(dest, name), 0o755);
  }
  const lib = join(L.tasks, 'guest', 'winshim.py');
  if (existsSync(lib)) copyFileSync(lib, join(dest, '..', 'winshim.py'));
  return dest;
}
