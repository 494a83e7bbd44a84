/**
 * Where the Windows program shims run from (placeholder `{shims}`): a copy of the tasks' shims
 * (`{tasks}/guest/winshims/*` and the `winshim.py` they load) in `{work}/.pyti-shims`, owned by
 * root and not writable by the tasks. A copy because VMs mount the tasks directory noexec (so a shim
 * there cannot be exec'd) while /work is exec-able in every backend.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GuestLayout } from './task-executor.js';

/** The directory put first on PATH by the traced tasks (`{shims}`). */
export function shimsDir(L: Pick<GuestLayout, 'work'>): string {
  return join(L.work, '.pyti-shims', 'winshims');
}

declare const __PYTI_SHIMS__: { files: Record<string, string>; lib: string } | undefined;

/** Writes `files` (name, content) into shimsDir, executable, and `lib` beside them as winshim.py; returns shimsDir. */
function writeShims(L: Pick<GuestLayout, 'work'>, files: [string, string | Buffer][], lib: string | Buffer | undefined): string {
  const dest = shimsDir(L);
  mkdirSync(dest, { recursive: true, mode: 0o755 });
  chmodSync(join(dest, '..'), 0o755);
  for (const [name, data] of files) {
    writeFileSync(join(dest, name), data, { mode: 0o755 });
    chmodSync(join(dest, name), 0o755);
  }
  if (lib !== undefined) writeFileSync(join(dest, '..', 'winshim.py'), lib, { mode: 0o644 });
  return dest;
}

/**
 * Writes the shims a bundled agent carries (tasks/guest/winshims and winshim.py, inlined at bundle
 * time) into shimsDir; returns it, or undefined when the agent runs unbundled (bwrap: installShims
 * copies them from the tasks directory at each run). A VM guest does this at its warm-up, so that a
 * job's first run does not copy them from its input disk (about 80 ms under TCG).
 */
export function installEmbeddedShims(L: Pick<GuestLayout, 'work'>): string | undefined {
  if (typeof __PYTI_SHIMS__ !== 'object' || __PYTI_SHIMS__ === null) return undefined;
  return writeShims(L, Object.entries(__PYTI_SHIMS__.files).filter(([name]) => /^[\w.-]+$/.test(name)), __PYTI_SHIMS__.lib);
}

/** Copies the shims into shimsDir; returns it, or undefined when the tasks have no shims. */
export function installShims(L: Pick<GuestLayout, 'work' | 'tasks'>): string | undefined {
  const from = join(L.tasks, 'guest', 'winshims');
  if (!existsSync(from)) return undefined;
  const lib = join(L.tasks, 'guest', 'winshim.py');
  return writeShims(L, readdirSync(from).map((name) => [name, readFileSync(join(from, name))]), existsSync(lib) ? readFileSync(lib) : undefined);
}
