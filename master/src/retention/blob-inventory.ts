/**
 * What the blob store holds and who needs it: every blob with its kind, size, last use and whether a
 * queued or running job protects it, from the database (the truth about references) and the store.
 *
 * - `archive`: a distribution: the upload (or git archive) of a job (`jobs.upload_sha256`), or the
 *   `dist/…` artifact a slave sends with its report;
 * - `raw`: a report's raw data (`raw/<task>/<file>` artifacts: traces, logs);
 * - `orphan`: a blob no job and no artifact names (a slave's upload whose `jobs.complete` never came).
 *
 * A blob's last use is the newest of its file's modification time (written, or re-used by an
 * identical upload) and the times of the jobs naming it (finished, or submitted when never finished).
 * A blob named by a queued or running job is protected: a slave is about to fetch it. A blob named by
 * an audit judged malicious or suspicious is the evidence of that verdict: kept unless the policy
 * says otherwise (`--retention-prune-flagged`).
 *
 * SQL here is portable (plain SELECTs and JOINs).
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '@pyti/common';
import type { Db } from '../db/database.js';
import type { BlobStore } from '../blobs/blob-store.js';

export type BlobKind = 'archive' | 'raw' | 'orphan';

/** What the database says about one blob. */
export interface BlobRefs {
  /** `archive` or `raw` (an archive when any reference is a distribution); `orphan` without references. */
  kind: BlobKind;
  /** The id of a queued or running job naming it, or null. */
  protectedBy: string | null;
  /** The newest time of a job naming it (ms), or null without references. */
  lastRefMs: number | null;
  /** The id of an audit judged malicious or suspicious naming it, or null. */
  flaggedBy: string | null;
}

/** One blob in the store, with what the database says about it. */
export interface InventoryBlob extends BlobRefs {
  sha256: string;
  sizeBytes: number;
  mtimeMs: number;
  /** max(mtimeMs, lastRefMs). */
  lastUseMs: number;
}

/** A leftover in the store's temp directory (a write that died, a gc run that died). */
export interface TempLeftover {
  path: string;
  name: string;
  sizeBytes: number;
  mtimeMs: number;
}

const LIVE = "('queued', 'running')";

interface RefRow { sha256: string; state: string; verdict: string | null; at: number; job_id: string; archive: number }

/** Every reference in the database, one row each (uploads of jobs, artifacts of reports). */
function allRefs(db: Db): RefRow[] {
  return db.prepare(`
    SELECT upload_sha256 AS sha256, state, verdict, COALESCE(finished_at, submitted_at) AS at, id AS job_id, 1 AS archive
      FROM jobs WHERE upload_sha256 IS NOT NULL
    UNION ALL
    SELECT a.sha256 AS sha256, j.state AS state, j.verdict AS verdict, COALESCE(j.finished_at, j.submitted_at) AS at, j.id AS job_id,
           CASE WHEN a.name LIKE 'dist/%' THEN 1 ELSE 0 END AS archive
      FROM artifacts a JOIN jobs j ON j.seq = a.job_seq`).all() as RefRow[];
}

function fold(into: BlobRefs, r: RefRow): void {
  if (r.archive) into.kind = 'archive';
  else if (into.kind === 'orphan') into.kind = 'raw';
  if (into.protectedBy === null && (r.state === 'queued' || r.state === 'running')) into.protectedBy = r.job_id;
  if (into.flaggedBy === null && (r.verdict === 'malicious' || r.verdict === 'suspicious')) into.flaggedBy = r.job_id;
  into.lastRefMs = Math.max(into.lastRefMs ?? 0, r.at);
}

/** What the database says about every blob it names. */
export function referencesByBlob(db: Db): Map<string, BlobRefs> {
  const m = new Map<string, BlobRefs>();
  for (const r of allRefs(db)) {
    let e = m.get(r.sha256);
    if (!e) m.set(r.sha256, (e = { kind: 'orphan', protectedBy: null, lastRefMs: null, flaggedBy: null }));
    fold(e, r);
  }
  return m;
}

/** What the database says about one blob now (gc re-reads it inside its transaction before deleting). */
export function referencesOf(db: Db, sha256: string): BlobRefs {
  const rows = db.prepare(`
    SELECT upload_sha256 AS sha256, state, verdict, COALESCE(finished_at, submitted_at) AS at, id AS job_id, 1 AS archive
      FROM jobs WHERE upload_sha256 = ?
    UNION ALL
    SELECT a.sha256 AS sha256, j.state AS state, j.verdict AS verdict, COALESCE(j.finished_at, j.submitted_at) AS at, j.id AS job_id,
           CASE WHEN a.name LIKE 'dist/%' THEN 1 ELSE 0 END AS archive
      FROM artifacts a JOIN jobs j ON j.seq = a.job_seq WHERE a.sha256 = ?`).all(sha256, sha256) as RefRow[];
  const e: BlobRefs = { kind: 'orphan', protectedBy: null, lastRefMs: null, flaggedBy: null };
  for (const r of rows) fold(e, r);
  return e;
}

/** The ids of queued or running jobs (for a summary line). */
export function liveJobCount(db: Db): number {
  return (db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE state IN ${LIVE}`).get() as { n: number }).n;
}

/** Files statted between two yields to the event loop (a running master keeps answering while gc lists a large store). */
const LIST_SLICE = 2000;

/** Every blob of the store with its references (the walk yields to the event loop every few thousand files). */
export async function blobInventory(db: Db, blobs: BlobStore): Promise<InventoryBlob[]> {
  const refs = referencesByBlob(db);
  const out: InventoryBlob[] = [];
  for (const b of blobs.list()) {
    const r = refs.get(b.sha256) ?? { kind: 'orphan' as const, protectedBy: null, lastRefMs: null, flaggedBy: null };
    out.push({ ...b, ...r, lastUseMs: Math.max(b.mtimeMs, r.lastRefMs ?? 0) });
    if (out.length % LIST_SLICE === 0) await new Promise((r) => setImmediate(r));
  }
  return out;
}

function treeSize(path: string): { size: number; mtimeMs: number } {
  const st = statSync(path);
  if (!st.isDirectory()) return { size: st.size, mtimeMs: st.mtimeMs };
  let size = 0;
  let mtimeMs = st.mtimeMs;
  for (const n of readdirSync(path)) {
    try {
      const t = treeSize(join(path, n));
      size += t.size;
      mtimeMs = Math.max(mtimeMs, t.mtimeMs);
    } catch {
      /* removed meanwhile */
    }
  }
  return { size, mtimeMs };
}

/**
 * The entries of the store's temp directory left by processes that are gone (BlobStore's `t-<pid>-*`
 * and gc's own `gc-<pid>-*`), with size and newest time. A live process's entries are writes in flight.
 */
export function tempLeftovers(blobs: BlobStore): TempLeftover[] {
  let names: string[];
  try {
    names = readdirSync(blobs.tmpDir);
  } catch {
    return [];
  }
  const out: TempLeftover[] = [];
  for (const name of names.sort()) {
    // `t-<pid>-…` (BlobStore.tempPath) and `gc-<pid>-…` (a gc run): in use while that process lives.
    const m = /^(?:t|gc)-(\d+)-/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    try {
      const t = treeSize(join(blobs.tmpDir, name));
      out.push({ path: join(blobs.tmpDir, name), name, sizeBytes: t.size, mtimeMs: t.mtimeMs });
    } catch {
      /* removed meanwhile */
    }
  }
  return out;
}

/** Removes one temp leftover. */
export function removeLeftover(t: TempLeftover): void {
  rmSync(t.path, { recursive: true, force: true });
}
