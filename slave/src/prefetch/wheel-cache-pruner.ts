/**
 * Pruning a slave's wheel cache (wheel-cache.ts) by age and size, least recently used first. A
 * wheel's last use is its content file's modification time, which `WheelCache.commit` renews each
 * time a pip run resolves it (new or already cached). Runs only with the cache to itself
 * (wheel-cache-use.ts): never while a prefetch uses it; then it skips and says so.
 *
 * Deleted: wheels last used before `now - maxAgeMs`; then, while the cache is above `maxBytes`, the
 * least recently used; the `by-name` links left pointing nowhere; `*.tmp-*` files of commits that died.
 */
import { lstatSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { WheelCache } from './wheel-cache.js';
import { withCacheAlone } from './wheel-cache-use.js';

/** What may stay in a wheel cache. */
export interface WheelCachePolicy {
  /** Most bytes of wheels kept; null: no limit. */
  maxBytes: number | null;
  /** Wheels unused for longer go; null: no limit. */
  maxAgeMs: number | null;
}

export interface PrunedWheel {
  sha256: string;
  /** The file names the cache knew it by. */
  filenames: string[];
  sizeBytes: number;
  lastUseMs: number;
  reason: 'age' | 'size';
}

export type WheelPruneResult =
  | { busy: string }
  | { deleted: PrunedWheel[]; kept: { count: number; bytes: number } };

interface CachedFile { sha256: string; path: string; sizeBytes: number; lastUseMs: number }

function cachedFiles(cache: WheelCache): { files: CachedFile[]; leftovers: string[] } {
  const files: CachedFile[] = [];
  const leftovers: string[] = [];
  for (const n of readdirSync(cache.bySha).sort()) {
    const p = join(cache.bySha, n);
    const hex = /^([0-9a-f]{64})\.whl$/.exec(n)?.[1];
    if (!hex) {
      if (n.includes('.tmp-')) leftovers.push(p);
      continue;
    }
    try {
      const st = lstatSync(p);
      if (st.isFile()) files.push({ sha256: hex, path: p, sizeBytes: st.size, lastUseMs: st.mtimeMs });
    } catch {
      /* gone */
    }
  }
  for (const n of readdirSync(cache.byName)) if (n.includes('.tmp-')) leftovers.push(join(cache.byName, n));
  return { files, leftovers };
}

/** File names (by-name links) of each cached sha256. */
function namesBySha(cache: WheelCache): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const n of readdirSync(cache.byName)) {
    try {
      const hex = /^([0-9a-f]{64})\.whl$/.exec(basename(readlinkSync(join(cache.byName, n))))?.[1];
      if (hex) m.set(hex, [...(m.get(hex) ?? []), n]);
    } catch {
      /* not a link */
    }
  }
  return m;
}

/** Removes by-name links whose wheel is gone. */
function dropDanglingNames(cache: WheelCache): void {
  for (const n of readdirSync(cache.byName)) {
    const p = join(cache.byName, n);
    try {
      statSync(p);
    } catch {
      rmSync(p, { force: true });
    }
  }
}

/** Prunes `cache` under `policy` at `now` unless a prefetch uses it (`busy`). `gateTimeoutMs`: how long to wait for another prune. */
export async function pruneWheelCache(cache: WheelCache, policy: WheelCachePolicy, now = Date.now(), gateTimeoutMs = 5000): Promise<WheelPruneResult> {
  const r = await withCacheAlone(cache.root, () => pruneNow(cache, policy, now), gateTimeoutMs);
  return 'busy' in r ? r : r.value;
}

function pruneNow(cache: WheelCache, policy: WheelCachePolicy, now: number): WheelPruneResult {
  const { files, leftovers } = cachedFiles(cache);
  for (const p of leftovers) rmSync(p, { force: true });
  const names = namesBySha(cache);
  const byAge = [...files].sort((a, b) => a.lastUseMs - b.lastUseMs || a.sha256.localeCompare(b.sha256));
  const doomed = new Map<CachedFile, 'age' | 'size'>();
  if (policy.maxAgeMs !== null) for (const f of byAge) if (f.lastUseMs < now - policy.maxAgeMs) doomed.set(f, 'age');
  let total = files.reduce((s, f) => s + f.sizeBytes, 0) - [...doomed.keys()].reduce((s, f) => s + f.sizeBytes, 0);
  if (policy.maxBytes !== null) {
    for (const f of byAge) {
      if (total <= policy.maxBytes) break;
      if (doomed.has(f)) continue;
      doomed.set(f, 'size');
      total -= f.sizeBytes;
    }
  }
  const deleted: PrunedWheel[] = [];
  for (const [f, reason] of doomed) {
    rmSync(f.path, { force: true });
    deleted.push({ sha256: f.sha256, filenames: names.get(f.sha256) ?? [], sizeBytes: f.sizeBytes, lastUseMs: f.lastUseMs, reason });
  }
  if (deleted.length) dropDanglingNames(cache);
  return { deleted, kept: { count: files.length - deleted.length, bytes: total } };
}
