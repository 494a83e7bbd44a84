/**
 * Submissions: several audits submitted together (the projects of one zip, or a one-off git audit),
 * each with the zip entry or git ref it came from, in the master's database (migration 5).
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { AuditState, AuditSummary } from '../user-api.js';
import { SubmissionNotFoundError } from './submission-errors.js';

export type SubmissionKind = 'zip' | 'git';

/** `GET /api/v1/submissions/:id`. */
export interface SubmissionView {
  id: string;
  kind: SubmissionKind;
  /** The zip's file name, or `<repo> <ref>`. */
  name: string;
  createdAt: string;
  /** Audits per state, and in all. */
  counts: Record<AuditState, number> & { total: number };
  /** In submission order: the zip entry (a distribution file, or a project directory `dir/`) or the git ref, and its audit. */
  audits: { entry: string; audit: AuditSummary }[];
}

/** Submission ids: `s` and 12 url-safe characters. */
export const SUBMISSION_ID = /^s[A-Za-z0-9_-]{12}$/;

export class SubmissionStore {
  private readonly st;

  constructor(private readonly db: Db, private readonly queue: JobQueue, private readonly clock: Clock) {
    this.st = {
      insert: db.prepare('INSERT INTO submissions (id, kind, name, created_at) VALUES (?, ?, ?, ?)'),
      link: db.prepare('INSERT INTO submission_jobs (submission_id, position, job_id, entry) VALUES (?, ?, ?, ?)'),
      byId: db.prepare('SELECT * FROM submissions WHERE id = ?'),
      jobs: db.prepare('SELECT job_id, entry FROM submission_jobs WHERE submission_id = ? ORDER BY position'),
    };
  }

  /**
   * Records a submission and its audits in one transaction: `submit` runs inside it and returns the
   * audits to link (entry and audit id), so a failure leaves neither the submission nor its audits.
   */
  create(kind: SubmissionKind, name: string, submit: () => { entry: string; jobId: string }[]): SubmissionView {
    const id = `s${randomBytes(9).toString('base64url')}`;
    this.db.transaction(() => {
      this.st.insert.run(id, kind, name.slice(0, 1024), this.clock.now());
      submit().forEach((j, i) => this.st.link.run(id, i, j.jobId, j.entry.slice(0, 1024)));
    })();
    return this.get(id);
  }

  /** One submission; PYTI_SUBMISSION_NOT_FOUND. */
  get(id: string): SubmissionView {
    const r = SUBMISSION_ID.test(id) ? this.st.byId.get(id) as { id: string; kind: SubmissionKind; name: string; created_at: number } | undefined : undefined;
    if (!r) throw new SubmissionNotFoundError(id);
    const counts = { queued: 0, running: 0, done: 0, error: 0, cancelled: 0, total: 0 };
    const audits: SubmissionView['audits'] = [];
    for (const l of this.st.jobs.all(id) as { job_id: string; entry: string }[]) {
      const audit = this.queue.summary(l.job_id);
      if (!audit) continue;
      counts[audit.state]++;
      counts.total++;
      audits.push({ entry: l.entry, audit });
    }
    return { id: r.id, kind: r.kind, name: r.name, createdAt: new Date(r.created_at).toISOString(), counts, audits };
  }
}
