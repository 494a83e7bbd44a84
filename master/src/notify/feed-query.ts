/** The finished audits each Atom feed lists, newest first (read straight from the jobs table). */
import type { Db } from '../db/database.js';
import { normalizeName } from '../feeds/pep.js';
import type { FeedAudit } from './atom-feed.js';
import { registerSqlFunctions } from './sql-functions.js';

/** Which audits a feed lists. */
export type FeedFilter = { kind: 'all' } | { kind: 'flagged' } | { kind: 'project'; name: string } | { kind: 'subscription'; id: number };

/** Entries per feed. */
export const FEED_ENTRIES = 50;

interface Row {
  id: string; project: string; version: string; filename: string | null; state: string; verdict: string | null; score: number | null;
  result: string | null; findings: number | null; error_code: string | null; finished_at: number;
}

export class FeedQuery {
  private readonly st;

  constructor(db: Db) {
    registerSqlFunctions(db);
    const cols = 'j.id, j.project, j.version, j.filename, j.state, j.verdict, j.score, j.result, j.findings, j.error_code, j.finished_at';
    const finished = `j.state IN ('done', 'error') AND j.finished_at IS NOT NULL`;
    const order = `ORDER BY j.finished_at DESC, j.seq DESC LIMIT ${FEED_ENTRIES}`;
    this.st = {
      all: db.prepare(`SELECT ${cols} FROM jobs j WHERE ${finished} ${order}`),
      flagged: db.prepare(`SELECT ${cols} FROM jobs j WHERE ${finished} AND j.verdict IN ('malicious', 'suspicious') ${order}`),
      project: db.prepare(`SELECT ${cols} FROM jobs j WHERE ${finished} AND pyti_normalize(j.project) = ? ${order}`),
      subscription: db.prepare(`SELECT ${cols} FROM jobs j JOIN subscription_jobs sj ON sj.job_id = j.id WHERE ${finished} AND sj.subscription_id = ? ${order}`),
      subscriptionId: db.prepare('SELECT id FROM subscriptions WHERE name = ?'),
    };
  }

  /** The id of a subscription by name, or null. */
  subscriptionId(name: string): number | null {
    return (this.st.subscriptionId.get(name) as { id: number } | undefined)?.id ?? null;
  }

  audits(f: FeedFilter): FeedAudit[] {
    const rows = (f.kind === 'project' ? this.st.project.all(normalizeName(f.name))
      : f.kind === 'subscription' ? this.st.subscription.all(f.id)
        : this.st[f.kind].all()) as Row[];
    return rows.map((r) => ({
      id: r.id, project: r.project, version: r.version, filename: r.filename, state: r.state, verdict: r.verdict, score: r.score,
      result: r.result, findings: r.findings, errorCode: r.error_code, finishedAt: r.finished_at,
    }));
  }
}
