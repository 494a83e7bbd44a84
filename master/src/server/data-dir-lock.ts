/**
 * The exclusive lock of a master's data directory (SQLite store): `master.lock` in the directory,
 * held with flock(2) by a small `flock(1)` child for as long as the master runs. The kernel drops an
 * flock when its holder dies, so a lock left by a killed master is simply taken over; the file's
 * content (pid, host, start time, command of the holder) is only there to name the holder in the
 * error a second master gets.
 *
 * The child reads a pipe whose other end only the master holds: when the master exits, however it
 * exits (SIGKILL included), the pipe closes, the child ends and the lock is released. It runs in a
 * process group of its own, so a Ctrl-C in the master's terminal does not release the lock before
 * the master has finished closing.
 *
 * Security: the lock guards against mistakes (two masters on one queue), not against a local user
 * who can write the data directory (directory mode 0700 does that).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { pidAlive } from '@pyti/common';

/** The lock file inside the data directory. */
export const LOCK_FILE = 'master.lock';

/** Who holds (or held) a data directory's lock, as written in its lock file. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO 8601 time the holder took the lock. */
  startedAt: string;
  /** What the holder runs (`pyti master`, `pyti master rescore`). */
  command: string;
}

/** A held lock. */
export interface DataDirLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** The holder named in the lock file when it was taken over (a master that died without releasing), or null. */
  readonly tookOverFrom: LockHolder | null;
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
  /**
   * Resolves (with why) if the lock is lost while held: its flock(1) holder process ended before
   * release() (killed by hand, by the OOM killer, …). The kernel has then dropped the lock and another
   * master could take the directory: the holder of a lost lock must stop. Never rejects.
   */
  readonly lost: Promise<string>;
}

/** A second master on a data directory in use: the error names the holder. */
export class DataDirLockedError extends PytiError {
  constructor(readonly path: string, readonly holder: LockHolder | null, message: string) {
    super('PYTI_DATA_DIR_LOCKED', message);
  }
}

/** flock(1)'s exit code when the lock is held by someone else (--conflict-exit-code). */
const CONFLICT = 75;

/** The holder a lock file names, or null when it is empty or not ours. */
export function readLockHolder(path: string): LockHolder | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(text.slice(0, 4096)) as Partial<LockHolder>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.startedAt !== 'string') return null;
    return { pid: v.pid, host: v.host, startedAt: v.startedAt, command: typeof v.command === 'string' ? v.command : 'pyti master' };
  } catch {
    return null;
  }
}

/** "pid 123 on host h (pyti master, since 2026-…)". */
export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid} on host ${h.host} (${h.command}, since ${h.startedAt})`;
}

function lockedMessage(path: string, holder: LockHolder | null): string {
  const who = holder === null
    ? 'a process that has not written its name yet (starting up)'
    : holder.host === hostname() && !pidAlive(holder.pid)
      ? `a process starting up (the lock file still names ${describeHolder(holder)}, which is not running)`
      : describeHolder(holder);
  return `the data directory is in use: ${path} is locked by ${who}; stop that master first, or give this one another --data directory`;
}

/**
 * Takes the exclusive lock of `dataDir` (created 0700 if missing) for `command`, without waiting.
 * Throws DataDirLockedError (PYTI_DATA_DIR_LOCKED) naming the holder when another live process
 * holds it, or when flock(1) (util-linux) cannot be run.
 */
export async function lockDataDir(dataDir: string, command: string): Promise<DataDirLock> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, LOCK_FILE);
  const previous = readLockHolder(path);
  const child = spawn('flock', ['--nonblock', '--conflict-exit-code', String(CONFLICT), path, 'sh', '-c', 'echo locked && exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'], detached: true,
  });
  const outcome = await new Promise<{ locked: true } | { locked: false; code: number | null; why: string }>((resolve) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked')) resolve({ locked: true });
    });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', (e) => resolve({ locked: false, code: null, why: `cannot run flock(1): ${e.message}` }));
    child.on('close', (code) => resolve({ locked: false, code, why: err.trim() || `flock exited with ${code}` }));
  });
  if (!outcome.locked) {
    if (outcome.code === CONFLICT) {
      const holder = readLockHolder(path);
      throw new DataDirLockedError(path, holder, lockedMessage(path, holder));
    }
    throw new DataDirLockedError(path, null, `cannot lock the data directory ${path}: ${outcome.why}`);
  }
  const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command };
  writeFileSync(path, `${JSON.stringify(holder)}\n`);
  // The lock must not keep the process alive, nor die with it later than the process itself.
  child.stdout!.destroy();
  child.stderr!.destroy();
  (child.stdin as unknown as { unref(): void }).unref();
  child.unref();
  let released: Promise<void> | null = null;
  let wasLost = false;
  const lost = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      if (released !== null) return;
      wasLost = true; // another master may hold the lock (and have written its name) by now: leave the file alone
      resolve(`its flock(1) holder (pid ${child.pid}) ended (${signal ?? `exit ${code}`}), so the kernel dropped the lock of ${path}`);
    });
  });
  return {
    path,
    holder,
    tookOverFrom: previous,
    lost,
    release() {
      released ??= wasLost ? Promise.resolve() : releaseLock(child, path);
      return released;
    },
  };
}

async function releaseLock(child: ChildProcess, path: string): Promise<void> {
  // Still ours until the child ends: clear the holder's name first.
  try {
    writeFileSync(path, '');
  } catch {
    // a data directory that went away: nothing to clear
  }
  if (child.exitCode !== null || child.signalCode !== null) return;
  const ended = new Promise<void>((r) => child.once('exit', () => r()));
  child.ref(); // keep the process alive until the child has let go
  child.stdin!.end();
  await ended;
}
