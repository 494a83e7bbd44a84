/**
 * How an audit's pages and API show raw data that gc deleted: the artifact rows stay in the
 * database, so the audit lists every file it had; a file whose blob is gone is marked `pruned` (with
 * the date and reason gc recorded in `pruned_blobs`), and reading it answers 410 PYTI_RAW_PRUNED
 * instead of failing.
 */
import { PytiError } from '@pyti/vm-agent';
import type { Db } from '../db/database.js';
import type { BlobStore } from '../blobs/blob-store.js';
import type { AuditDetail } from '../user-api.js';

export class PrunedArtifacts {
  private readonly record;

  constructor(db: Db, private readonly blobs: BlobStore) {
    this.record = db.prepare('SELECT pruned_at, reason FROM pruned_blobs WHERE sha256 = ?');
  }

  /** `detail` with each artifact whose blob the store no longer has marked `pruned`. */
  mark(detail: AuditDetail): AuditDetail {
    if (!detail.artifacts.some((a) => !this.blobs.has(a.sha256))) return detail;
    return {
      ...detail,
      artifacts: detail.artifacts.map((a) => {
        if (this.blobs.has(a.sha256)) return a;
        const r = this.record.get(a.sha256) as { pruned_at: number; reason: string } | undefined;
        return { ...a, pruned: { at: r ? new Date(r.pruned_at).toISOString() : null, reason: r?.reason ?? null } };
      }),
    };
  }

  /** Throws PYTI_RAW_PRUNED (410) for artifact `name` of audit `id` whose blob `sha256` is gone; returns when it is there. */
  require(id: string, name: string, sha256: string): void {
    if (this.blobs.has(sha256)) return;
    const r = this.record.get(sha256) as { pruned_at: number; reason: string } | undefined;
    const when = r ? ` on ${new Date(r.pruned_at).toISOString()} (${r.reason})` : '';
    throw new PytiError('PYTI_RAW_PRUNED', `${JSON.stringify(name.slice(0, 200))} of audit ${id.slice(0, 64)} is no longer stored: the retention policy pruned it${when}; the report stays`);
  }
}

/** Files and bytes of `artifacts` that are pruned, and the latest prune time among them. */
export function prunedSummary(artifacts: AuditDetail['artifacts']): { files: number; bytes: number; at: string | null } | null {
  const gone = artifacts.filter((a) => a.pruned);
  if (!gone.length) return null;
  const at = gone.map((a) => a.pruned!.at).filter((x): x is string => x !== null).sort().at(-1) ?? null;
  return { files: gone.length, bytes: gone.reduce((s, a) => s + a.sizeBytes, 0), at };
}
