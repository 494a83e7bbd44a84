/**
 * What a gc would delete under a retention policy, decided from an inventory (blob-inventory.ts):
 *
 * 1. never a blob a queued or running job names, nor one last used within the grace period, nor (unless
 *    `pruneFlagged`) one an audit judged malicious or suspicious names (the evidence of its verdict);
 * 2. `unreferenced`: every orphan blob (nothing names it) past the grace period;
 * 3. `age`: with a max age, every archive and raw blob last used before `now - maxAge`;
 * 4. `size`: with a max total size, while the blobs that are left exceed it, the least recently used
 *    deletable ones (oldest first);
 * 5. temp leftovers of processes that are gone, past the grace period.
 *
 * `pyti master gc --dry-run` prints this plan; a real run executes exactly it (gc-run.ts), re-checking
 * each blob in a database transaction first and skipping (and reporting) what changed meanwhile.
 */
import type { RetentionConfig } from './retention-config.js';
import type { BlobKind, InventoryBlob, TempLeftover } from './blob-inventory.js';

export type PruneReason = 'age' | 'size' | 'unreferenced';
export type GcKind = BlobKind | 'temp';

/** One thing a gc deletes. */
export interface GcItem {
  kind: GcKind;
  reason: PruneReason;
  /** A blob's sha256, or a temp leftover's name. */
  name: string;
  sizeBytes: number;
  lastUseMs: number;
  /** The blob, for a blob (gc-run re-checks it). */
  blob?: InventoryBlob;
  temp?: TempLeftover;
}

export interface KindTotal { count: number; bytes: number }

export interface GcPlan {
  now: number;
  items: GcItem[];
  /** Blobs in the store before: count and bytes. */
  before: KindTotal;
  /** Blobs kept: count and bytes, and how many of them a queued or running job protects, a flagged audit, or the grace period. */
  after: KindTotal & { protectedByJobs: number; flagged: number; inGrace: number };
}

/** Counts and bytes by kind (the four kinds in a fixed order, zero ones included). */
export function totalsByKind(items: readonly Pick<GcItem, 'kind' | 'sizeBytes'>[]): Record<GcKind, KindTotal> {
  const t: Record<GcKind, KindTotal> = { archive: { count: 0, bytes: 0 }, raw: { count: 0, bytes: 0 }, orphan: { count: 0, bytes: 0 }, temp: { count: 0, bytes: 0 } };
  for (const i of items) {
    t[i.kind].count++;
    t[i.kind].bytes += i.sizeBytes;
  }
  return t;
}

/** The plan of a gc at `now` (ms) over `blobs` and `temps` under `policy`. Pure: no file or database access. */
export function planGc(policy: RetentionConfig, blobs: readonly InventoryBlob[], temps: readonly TempLeftover[], now: number): GcPlan {
  const graceLine = now - policy.graceMs;
  const ageLine = policy.maxAgeMs === null ? null : now - policy.maxAgeMs;
  const items: GcItem[] = [];
  const left: InventoryBlob[] = [];
  let protectedByJobs = 0;
  let flagged = 0;
  let inGrace = 0;
  const keep = (b: InventoryBlob): boolean => b.protectedBy !== null || (!policy.pruneFlagged && b.flaggedBy !== null) || b.lastUseMs >= graceLine;
  for (const b of blobs) {
    const item = (reason: PruneReason): GcItem => ({ kind: b.kind, reason, name: b.sha256, sizeBytes: b.sizeBytes, lastUseMs: b.lastUseMs, blob: b });
    if (b.protectedBy !== null) protectedByJobs++;
    else if (!policy.pruneFlagged && b.flaggedBy !== null) flagged++;
    else if (b.lastUseMs >= graceLine) inGrace++;
    else if (b.kind === 'orphan') {
      items.push(item('unreferenced'));
      continue;
    } else if (ageLine !== null && b.lastUseMs < ageLine) {
      items.push(item('age'));
      continue;
    }
    left.push(b);
  }
  let total = left.reduce((s, b) => s + b.sizeBytes, 0);
  const kept = new Set(left);
  if (policy.maxTotalBytes !== null && total > policy.maxTotalBytes) {
    const deletable = left.filter((b) => !keep(b))
      .sort((a, b) => a.lastUseMs - b.lastUseMs || a.sha256.localeCompare(b.sha256));
    for (const b of deletable) {
      if (total <= policy.maxTotalBytes) break;
      items.push({ kind: b.kind, reason: 'size', name: b.sha256, sizeBytes: b.sizeBytes, lastUseMs: b.lastUseMs, blob: b });
      kept.delete(b);
      total -= b.sizeBytes;
    }
  }
  for (const t of temps) {
    if (t.mtimeMs < graceLine) items.push({ kind: 'temp', reason: 'unreferenced', name: t.name, sizeBytes: t.sizeBytes, lastUseMs: t.mtimeMs, temp: t });
  }
  return {
    now, items,
    before: { count: blobs.length, bytes: blobs.reduce((s, b) => s + b.sizeBytes, 0) },
    after: { count: kept.size, bytes: total, protectedByJobs, flagged, inGrace },
  };
}
