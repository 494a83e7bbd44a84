/**
 * Executing a gc plan (gc-plan.ts) safely while the master runs. For each blob, inside one database
 * transaction per batch (SQLite: BEGIN IMMEDIATE, so no job can be queued or completed meanwhile):
 *
 * 1. the references are read again (`referencesOf`): a blob a queued or running job now names, or one
 *    named by a job newer than the plan saw, is skipped;
 * 2. the file is renamed aside (atomic) into the gc's private temp directory, and its modification
 *    time read there: a blob written or re-used within the grace period (an upload of the same file
 *    racing with the gc: BlobStore.adopt renews the time, or stores its own copy when the blob is
 *    gone) is put back and skipped;
 * 3. the deletion is recorded in `pruned_blobs` (kind, size, reason, time).
 * After the commit the set-aside files are deleted; if the transaction fails they are put back.
 *
 * So a blob a job is about to lease is never deleted: the job row (the truth) protects it, and an
 * upload that will queue such a job renews the file first.
 */
import { mkdirSync, renameSync, rmSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { BlobStore } from '../blobs/blob-store.js';
import { referencesOf, removeLeftover } from './blob-inventory.js';
import type { GcItem, GcPlan } from './gc-plan.js';
import type { RetentionConfig } from './retention-config.js';

/** What a real run did. */
export interface GcResult {
  deleted: GcItem[];
  /** Planned, not deleted: why (`in use by job …`, `re-used during gc`, `gone`, an error). */
  skipped: { item: GcItem; why: string }[];
}

export interface GcRunOptions {
  db: Db;
  blobs: BlobStore;
  policy: RetentionConfig;
  /** Told after each batch: items done so far, of all. */
  onProgress?: (done: number, total: number, deletedBytes: number) => void;
  /** Blobs per transaction (default 200). */
  batch?: number;
  /** Wall-clock time for the grace check (default Date.now; files carry real times). */
  wallNow?: () => number;
}

/** Runs `fn` in a transaction that holds the write lock from its start (BEGIN IMMEDIATE where the driver has it). */
function writeTransaction(db: Db, fn: () => void): void {
  const tx = db.transaction(fn) as unknown as { (): void; immediate?: () => void };
  if (typeof tx.immediate === 'function') tx.immediate();
  else tx();
}

/** Puts a set-aside blob back unless the store has it again (a new copy was adopted meanwhile). */
function putBack(blobs: BlobStore, sha256: string, aside: string): void {
  const dest = blobs.pathOf(sha256);
  if (existsSync(dest)) {
    rmSync(aside, { force: true });
    return;
  }
  mkdirSync(join(dest, '..'), { recursive: true, mode: 0o700 });
  renameSync(aside, dest);
}

/**
 * Deletes what `plan` lists (re-checking each blob, see above); temp leftovers are removed last.
 * Yields to the event loop between batches (a running master keeps answering; each batch's
 * transaction is short).
 */
export async function runGc(plan: GcPlan, o: GcRunOptions): Promise<GcResult> {
  const { db, blobs, policy } = o;
  const wallNow = o.wallNow ?? Date.now;
  const insert = db.prepare(`INSERT INTO pruned_blobs (sha256, kind, size, reason, pruned_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (sha256) DO UPDATE SET kind = excluded.kind, size = excluded.size, reason = excluded.reason, pruned_at = excluded.pruned_at`);
  const result: GcResult = { deleted: [], skipped: [] };
  const blobItems = plan.items.filter((i) => i.blob);
  const tempItems = plan.items.filter((i) => i.temp);
  const total = plan.items.length;
  const batch = o.batch ?? 200;
  const aside = join(blobs.tmpDir, `gc-${process.pid}-${randomBytes(6).toString('hex')}`);
  mkdirSync(aside, { recursive: true, mode: 0o700 });
  let deletedBytes = 0;
  try {
    for (let start = 0; start < blobItems.length; start += batch) {
      const moved: { item: GcItem; path: string }[] = [];
      const skipped: { item: GcItem; why: string }[] = [];
      try {
        writeTransaction(db, () => {
          for (const item of blobItems.slice(start, start + batch)) {
            const b = item.blob!;
            const now = referencesOf(db, b.sha256);
            if (now.protectedBy !== null) {
              skipped.push({ item, why: `job ${now.protectedBy} needs it` });
              continue;
            }
            if (!policy.pruneFlagged && now.flaggedBy !== null) {
              skipped.push({ item, why: `audit ${now.flaggedBy} is flagged` });
              continue;
            }
            if ((now.lastRefMs ?? 0) > (b.lastRefMs ?? 0) || (b.kind === 'orphan' && now.kind !== 'orphan')) {
              skipped.push({ item, why: 'a job named it during gc' });
              continue;
            }
            const path = join(aside, b.sha256);
            try {
              renameSync(blobs.pathOf(b.sha256), path);
            } catch (err) {
              skipped.push({ item, why: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'already gone' : (err as Error).message });
              continue;
            }
            if (statSync(path).mtimeMs >= wallNow() - policy.graceMs) {
              putBack(blobs, b.sha256, path);
              skipped.push({ item, why: 're-used during gc' });
              continue;
            }
            moved.push({ item, path });
            insert.run(b.sha256, b.kind, b.sizeBytes, item.reason, plan.now);
          }
        });
      } catch (err) {
        for (const m of moved) putBack(blobs, m.item.name, m.path);
        throw err;
      }
      for (const m of moved) {
        rmSync(m.path, { force: true });
        result.deleted.push(m.item);
        deletedBytes += m.item.sizeBytes;
      }
      result.skipped.push(...skipped);
      o.onProgress?.(Math.min(start + batch, blobItems.length), total, deletedBytes);
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    rmSync(aside, { recursive: true, force: true });
  }
  for (const item of tempItems) {
    try {
      removeLeftover(item.temp!);
      result.deleted.push(item);
      deletedBytes += item.sizeBytes;
    } catch (err) {
      result.skipped.push({ item, why: (err as Error).message });
    }
  }
  if (tempItems.length) o.onProgress?.(total, total, deletedBytes);
  return result;
}
