/**
 * The observations the master reports to the index (migration 4's `observations` table): one per
 * audited file (project, version, filename), queued when an audit of it is judged malicious, then
 * `sent`, or `failed` with the last reason once its attempts are used up.
 */
import type { IndexObservation } from '@pyti/common';
import type { Db } from '../db/database.js';
import type { AuditObservation } from '../user-api.js';

/** One stored observation. */
export interface ObservationRow {
  id: number;
  job_seq: number;
  project: string;
  version: string;
  filename: string;
  body: string;
  state: 'pending' | 'sent' | 'failed';
  attempts: number;
  last_error: string | null;
  next_at: number;
  created_at: number;
  sent_at: number | null;
}

/** The `observations` table. */
export class ObservationStore {
  private readonly st;

  constructor(private readonly db: Db) {
    this.st = {
      insert: db.prepare(`INSERT OR IGNORE INTO observations (job_seq, project, version, filename, body, state, attempts, next_at, created_at)
        VALUES (@job_seq, @project, @version, @filename, @body, 'pending', 0, @now, @now)`),
      due: db.prepare(`SELECT * FROM observations WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?`),
      sent: db.prepare(`UPDATE observations SET state = 'sent', attempts = attempts + 1, last_error = NULL, sent_at = @now WHERE id = @id`),
      retry: db.prepare(`UPDATE observations SET attempts = attempts + 1, last_error = @error, next_at = @next WHERE id = @id`),
      failed: db.prepare(`UPDATE observations SET state = 'failed', attempts = attempts + 1, last_error = @error WHERE id = @id`),
      ofFile: db.prepare(`SELECT o.*, j.id AS job_id FROM observations o JOIN jobs j ON j.seq = o.job_seq
        WHERE o.job_seq = @seq OR (o.project = @project AND o.version = @version AND o.filename = @filename) ORDER BY o.job_seq = @seq DESC LIMIT 1`),
      all: db.prepare('SELECT * FROM observations ORDER BY id'),
    };
  }

  /** Queues the observation of one audited file; false when that file already has one (sent, failed or pending). */
  enqueue(jobSeq: number, file: { project: string; version: string; filename: string }, body: IndexObservation, now: number): boolean {
    return this.st.insert.run({ job_seq: jobSeq, ...file, body: JSON.stringify(body), now }).changes === 1;
  }

  /** Pending observations whose time has come, oldest first. */
  due(now: number, max = 20): ObservationRow[] {
    return this.st.due.all(now, max) as ObservationRow[];
  }

  markSent(id: number, now: number): void {
    this.st.sent.run({ id, now });
  }

  /** Records a failed attempt: tried again at `nextAt`, or (null) failed for good. */
  markFailed(id: number, error: string, nextAt: number | null): void {
    if (nextAt === null) this.st.failed.run({ id, error: error.slice(0, 2000) });
    else this.st.retry.run({ id, error: error.slice(0, 2000), next: nextAt });
  }

  /** The observation of one audit (queued by it, or by another audit of the same file), as the user API shows it. */
  ofFile(jobSeq: number, project: string, version: string, filename: string | null): AuditObservation | null {
    const r = this.st.ofFile.get({ seq: jobSeq, project, version, filename }) as (ObservationRow & { job_id: string }) | undefined;
    if (!r) return null;
    return { state: r.state, attempts: r.attempts, error: r.last_error, sentAt: r.sent_at === null ? null : new Date(r.sent_at).toISOString(), jobId: r.job_id };
  }

  all(): ObservationRow[] {
    return this.st.all.all() as ObservationRow[];
  }
}
