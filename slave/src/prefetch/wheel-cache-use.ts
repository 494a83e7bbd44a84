/**
 * Who is using a wheel cache, between processes: a prefetch (stage → pip → commit → link into a
 * wheelhouse) holds a *use*, the pruner (wheel-cache-pruner.ts) needs the cache to itself.
 *
 *   <root>/gc.lock/          the gate (cache-lock.ts: an atomic mkdir holding its owner's pid)
 *   <root>/users/<pid>-<id>  one file per use in progress
 *
 * A use passes the gate (takes and at once releases it) to write its file, and removes the file when
 * done. The pruner holds the gate for its whole run and prunes only when no live process has a use
 * file (the files of dead processes are removed); otherwise it skips this time. So no prefetch starts
 * while the pruner runs, and the pruner never runs while a prefetch uses the cache, in this process
 * or another (`pyti audit` and a slave may share a cache).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '@pyti/common';
import { lockCacheEntry } from '../backends/cache-lock.js';

/** Longest wait for the gate (a prune in progress) before a prefetch gives up. */
export const WHEEL_CACHE_GATE_TIMEOUT_MS = 10 * 60_000;

function usersDir(root: string): string {
  return join(root, 'users');
}

/** Runs `fn` holding a use of the cache at `root` (waits while a prune runs). */
export async function withCacheUse<T>(root: string, fn: () => Promise<T>, gateTimeoutMs = WHEEL_CACHE_GATE_TIMEOUT_MS): Promise<T> {
  const dir = usersDir(root);
  mkdirSync(dir, { recursive: true });
  const marker = join(dir, `${process.pid}-${randomUUID()}`);
  const release = await lockCacheEntry(join(root, 'gc'), gateTimeoutMs);
  try {
    writeFileSync(marker, '');
  } finally {
    release();
  }
  try {
    return await fn();
  } finally {
    rmSync(marker, { force: true });
  }
}

/**
 * Runs `fn` with the cache at `root` to itself: resolves to `fn`'s value, or to null (nothing run)
 * when a live process holds a use, or the gate stays taken for `gateTimeoutMs`.
 */
export async function withCacheAlone<T>(root: string, fn: () => T | Promise<T>, gateTimeoutMs: number): Promise<{ value: T } | { busy: string }> {
  let release: () => void;
  try {
    release = await lockCacheEntry(join(root, 'gc'), gateTimeoutMs);
  } catch {
    return { busy: 'another prune holds the cache' };
  }
  try {
    const dir = usersDir(root);
    mkdirSync(dir, { recursive: true });
    let live = 0;
    for (const n of readdirSync(dir)) {
      const pid = Number(n.split('-')[0]);
      if (Number.isSafeInteger(pid) && pid > 0 && pidAlive(pid)) live++;
      else rmSync(join(dir, n), { force: true });
    }
    if (live) return { busy: `${live} prefetch${live === 1 ? '' : 'es'} using it` };
    return { value: await fn() };
  } finally {
    release();
  }
}
