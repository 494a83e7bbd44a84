/**
 * The host-wide allocator of task uid ranges for process sandboxes (bubblewrap and the chroot
 * baseline), which share one kernel: each running sandbox's task slots run as uids no other sandbox
 * on the host uses at the same time, so no task can signal, ptrace or reach through /proc another
 * audit's processes, nor own another audit's files.
 *
 * Range k starts at `base = first + k*(count+1)`: task slot i runs as `base + i` (i < count), and
 * `base + count` is the range's witness uid (uid-witness.ts), which no task uses. It is held by an exclusive
 * flock(2) on `<dir>/range-<k>.lock`, taken by a small `flock(1)` holder process that lives while
 * the allocating process keeps its stdin open: when the allocating process dies however it dies
 * (SIGKILL included), the holder reads end-of-file and exits, and the kernel drops the lock, so a
 * dead holder's range is free again with nothing to clean up and no pid to trust.
 *
 * VM backends are separate kernels and keep the image's uids (2000+slot).
 *
 * Security: the lock directory is root's (0700); only processes that can open its files can hold a
 * range. A uid range is safe only if no host account uses it: the default pool (1 500 000 and up)
 * lies far above Debian's account ranges; the sandbox's uid witnesses (uid-witness.ts) report any
 * process outside the sandbox that signals the range anyway.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError, TASK_UID_SLOTS } from '@pyti/vm-agent';

/** Task slots (uids) per range: as many as the agent uses (a plan runs at most 8 tasks at once). */
export const SANDBOX_UID_SLOTS = TASK_UID_SLOTS;
/** The first uid of the pool. */
export const SANDBOX_UID_FIRST = 1_500_000;
/** Ranges in the pool: concurrent process sandboxes per host. */
export const SANDBOX_UID_RANGES = 128;
/** Where the ranges' lock files are. */
export const DEFAULT_UID_LOCK_DIR = '/run/pyti/uids';
/** flock(1)'s exit code when the range is held by someone else. */
const BUSY_EXIT = 75;

export interface UidPool {
  /** Lock directory (created 0700 if missing). */
  dir?: string;
  first?: number;
  ranges?: number;
  count?: number;
  /** How long to wait for a free range when all are held (default 60 s). */
  waitMs?: number;
}

/** A held range of task uids; gids are the same numbers. */
export interface UidRange {
  /** Range number k in the pool. */
  index: number;
  /** First uid (slot 0's). */
  base: number;
  /** Number of task uids (slots). */
  count: number;
  /** The real uid of the range's witnesses (`base + count`), never a task's. */
  witnessUid: number;
  /** Gives the range back (idempotent); the lock is dropped once the holder process has exited. */
  release(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Takes a free range of the pool, trying ranges in order; waits (polling) while all are held, and
 * throws PYTI_SANDBOX_UIDS_BUSY after `waitMs`.
 */
export async function allocateUidRange(pool: UidPool = {}): Promise<UidRange> {
  const dir = pool.dir ?? DEFAULT_UID_LOCK_DIR;
  const first = pool.first ?? SANDBOX_UID_FIRST;
  const ranges = pool.ranges ?? SANDBOX_UID_RANGES;
  const count = pool.count ?? SANDBOX_UID_SLOTS;
  if (!Number.isInteger(first) || first < 1000 || !Number.isInteger(count) || count < 1 || !Number.isInteger(ranges) || ranges < 1
    || first + ranges * (count + 1) > 2 ** 31 - 2) {
    throw new PytiError('PYTI_CONFIG_INVALID', `uid pool ${first}+${ranges}x${count + 1} is not a valid uid range`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const deadline = Date.now() + (pool.waitMs ?? 60_000);
  for (;;) {
    for (let k = 0; k < ranges; k++) {
      const holder = await holdLock(join(dir, `range-${k}.lock`));
      if (!holder) continue;
      let released = false;
      return {
        index: k, base: first + k * (count + 1), count, witnessUid: first + k * (count + 1) + count,
        release() {
          if (released) return;
          released = true;
          holder.stdin!.end();
        },
      };
    }
    if (Date.now() > deadline) throw new PytiError('PYTI_SANDBOX_UIDS_BUSY', `all ${ranges} sandbox uid ranges under ${dir} are in use`);
    await sleep(250);
  }
}

/**
 * Starts a holder of the exclusive lock on `file`: resolves with it once it holds the lock, or with
 * null when another process holds it (or flock cannot run).
 */
function holdLock(file: string): Promise<ChildProcess | null> {
  return new Promise((resolve) => {
    // `echo held` says the lock is taken; `cat` then waits for our end of stdin (EOF when we release or die).
    const child = spawn('flock', ['--exclusive', '--nonblock', '--conflict-exit-code', String(BUSY_EXIT), file, 'sh', '-c', 'echo held; exec cat >/dev/null'], {
      stdio: ['pipe', 'pipe', 'ignore'], env: { PATH: '/usr/bin:/bin' },
    });
    child.stdin!.on('error', () => undefined);
    let done = false;
    const finish = (held: boolean): void => {
      if (done) return;
      done = true;
      // A lock we hold must not keep the event loop alive, nor be lost to a stray error.
      if (held) {
        child.unref();
        (child.stdout as unknown as { unref?: () => void }).unref?.();
        (child.stdin as unknown as { unref?: () => void }).unref?.();
      }
      resolve(held ? child : null);
    };
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('held')) finish(true);
    });
    child.on('error', () => finish(false));
    child.on('exit', () => finish(false));
  });
}
