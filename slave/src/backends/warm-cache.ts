/**
 * Upkeep of the warm VM template caches (QEMU's under the image cache, libvirt's under its state
 * directory). A template is keyed by everything its saved guest depends on, the agent bundle
 * included, so every new build of PyTI makes a new one (about 155 MB) and the old ones are never used
 * again. Each use touches the template's `warm.json`; pruning keeps the most recently used ones.
 */
import { existsSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

/** How many templates a cache keeps, and for how long an unused one stays. */
export interface WarmCachePolicy {
  /** Templates kept, most recently used first (default 4). */
  maxEntries: number;
  /** A template unused for longer goes, whatever the count (default 7 days). */
  maxIdleMs: number;
}

export const DEFAULT_WARM_CACHE_POLICY: Readonly<WarmCachePolicy> = Object.freeze({ maxEntries: 4, maxIdleMs: 7 * 24 * 3600 * 1000 });

/** A builder that died this long ago left its half-made template behind for good. */
const PARTIAL_AGE_MS = 30 * 60 * 1000;
const TEMPLATE_DIR = /^warm-[0-9a-f]{16}$/;
const PARTIAL_DIR = /^warm-[0-9a-f]{16}\.partial-\d+$/;

/** Marks the template in `dir` as used now (its `warm.json`'s modification time). */
export function touchWarmTemplate(dir: string): void {
  const now = new Date();
  try {
    utimesSync(join(dir, 'warm.json'), now, now);
  } catch {
    /* gone meanwhile: the caller finds out when it reads it */
  }
}

/**
 * Removes from `parent` the warm templates that `usable` rejects, those beyond the policy's count
 * or idle time (least recently used first), and half-made ones older than 30 minutes. `keep` (the
 * template about to be used) is never removed. Returns the directories removed.
 */
export function pruneWarmTemplates(parent: string, keep: string, usable: (dir: string) => boolean, policy: WarmCachePolicy = DEFAULT_WARM_CACHE_POLICY): string[] {
  if (!existsSync(parent)) return [];
  const removed: string[] = [];
  const drop = (p: string): void => {
    rmSync(p, { recursive: true, force: true });
    removed.push(p);
  };
  const lastUse = (p: string): number => {
    try {
      return statSync(join(p, 'warm.json')).mtimeMs;
    } catch {
      return -1;
    }
  };
  const live: { dir: string; used: number }[] = [];
  for (const name of readdirSync(parent)) {
    const p = join(parent, name);
    if (p === keep) continue;
    if (PARTIAL_DIR.test(name)) {
      if (Date.now() - statSync(p).mtimeMs > PARTIAL_AGE_MS) drop(p);
    } else if (TEMPLATE_DIR.test(name)) {
      const used = lastUse(p);
      if (used < 0 || !usable(p) || Date.now() - used > policy.maxIdleMs) drop(p);
      else live.push({ dir: p, used });
    }
  }
  // `keep` counts as the most recent one.
  live.sort((a, b) => b.used - a.used);
  for (const t of live.slice(Math.max(0, policy.maxEntries - 1))) drop(t.dir);
  return removed;
}
