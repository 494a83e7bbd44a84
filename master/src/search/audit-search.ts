/**
 * Audit lists with filters, paging and counts, over the master's database (read only). The WHERE
 * clause is built from fixed fragments (never from user text: values are bound parameters), and
 * the statements are prepared once per combination of filters.
 */
import type { Db } from '../db/database.js';
import { toSummary, type AttemptRow, type JobRow } from '../queue/job-rows.js';
import { JobNotFoundError } from '../queue/errors.js';
import type { AuditSummary } from '../user-api.js';
import type { AuditFilter } from './audit-filter.js';

/** Counts over the whole queue (not the rows shown). */
export interface QueueCounts {
  total: number;
  queued: number;
  running: number;
  done: number;
  error: number;
  cancelled: number;
  /** Verdict `failed` (a package failure) or state `error` (PyTI could not audit it). */
  failed: number;
  /** Verdict malicious or suspicious (or an older report's flagged). */
  flagged: number;
  malicious: number;
  suspicious: number;
  clean: number;
}

/** One page of a filtered list. */
export interface AuditPage {
  audits: AuditSummary[];
  /** Audits matching the filters (all pages). */
  total: number;
  limit: number;
  offset: number;
  /** The whole queue's counts. */
  counts: QueueCounts;
}

const FRAGMENTS: Record<string, string> = {
  state: 'state = @state',
  verdict: 'verdict = @verdict',
  flagged: "verdict IN ('malicious', 'suspicious', 'flagged')",
  result: "(result = @result OR (result >= @result || ':' AND result < @result || ';'))",
  project: 'project_key = @project',
  q: "instr(project_key, @q) > 0",
  subscription: `EXISTS (SELECT 1 FROM subscription_jobs sj JOIN subscriptions s ON s.id = sj.subscription_id WHERE sj.job_id = jobs.id AND s.name = @subscription)`,
  rule: `EXISTS (SELECT 1 FROM reports r, json_each(r.report, '$.findings') f WHERE r.job_seq = jobs.seq AND json_valid(r.report) AND json_extract(f.value, '$.rule') = @rule)`,
  backend: 'backend = @backend',
  slave: 'slave = @slave',
  since: 'submitted_at >= @since',
  until: 'submitted_at < @until',
  commit: "(git_commit >= @commit AND git_commit < @commit || 'g')",
  after: 'seq < @after',
};

export class AuditSearch {
  private readonly cache = new Map<string, { rows: import('better-sqlite3').Statement; count: import('better-sqlite3').Statement }>();
  private readonly st;

  constructor(private readonly db: Db) {
    this.st = {
      jobById: db.prepare('SELECT seq FROM jobs WHERE id = ?'),
      attemptsOf: db.prepare('SELECT * FROM attempts WHERE job_seq = ? ORDER BY attempt, leased_at'),
      counts: db.prepare(`SELECT COUNT(*) AS total,
        SUM(state = 'queued') AS queued, SUM(state = 'running') AS running, SUM(state = 'done') AS done,
        SUM(state = 'error') AS error, SUM(state = 'cancelled') AS cancelled,
        SUM(state = 'error' OR (state = 'done' AND verdict = 'failed')) AS failed,
        SUM(state = 'done' AND verdict IN ('malicious', 'suspicious', 'flagged')) AS flagged,
        SUM(state = 'done' AND verdict = 'malicious') AS malicious, SUM(state = 'done' AND verdict = 'suspicious') AS suspicious,
        SUM(state = 'done' AND verdict = 'clean') AS clean FROM jobs`),
    };
  }

  /** Counts over every audit in the queue. */
  counts(): QueueCounts {
    const r = this.st.counts.get() as Record<keyof QueueCounts, number | null>;
    const out = {} as QueueCounts;
    for (const k of Object.keys(r) as (keyof QueueCounts)[]) out[k] = r[k] ?? 0;
    return out;
  }

  /** One page of audits matching `f`, newest first. Throws JobNotFoundError for an unknown `after`. */
  page(f: AuditFilter): AuditPage {
    const params: Record<string, unknown> = { limit: f.limit, offset: f.offset };
    const used: string[] = [];
    const use = (name: string, value?: unknown): void => {
      used.push(name);
      if (value !== undefined) params[name] = value;
    };
    if (f.state) use('state', f.state);
    if (f.verdict === 'flagged') use('flagged');
    else if (f.verdict) use('verdict', f.verdict);
    if (f.result) use('result', f.result);
    if (f.project) use('project', f.project);
    if (f.q) use('q', f.q);
    if (f.subscription) use('subscription', f.subscription);
    if (f.rule) use('rule', f.rule);
    if (f.backend) use('backend', f.backend);
    if (f.slave) use('slave', f.slave);
    if (f.since !== undefined) use('since', f.since);
    if (f.until !== undefined) use('until', f.until);
    if (f.commit) use('commit', f.commit);
    if (f.after !== undefined) {
      const j = this.st.jobById.get(f.after) as { seq: number } | undefined;
      if (!j) throw new JobNotFoundError(f.after);
      use('after', j.seq);
    }
    const st = this.statements(used);
    const rows = st.rows.all(params) as JobRow[];
    const { n } = st.count.get(params) as { n: number };
    return {
      audits: rows.map((j) => toSummary(j, j.state === 'error' ? this.st.attemptsOf.all(j.seq) as AttemptRow[] : [])),
      total: n, limit: f.limit, offset: f.offset, counts: this.counts(),
    };
  }

  private statements(used: string[]) {
    const key = used.join(',');
    let st = this.cache.get(key);
    if (!st) {
      const where = used.length ? `WHERE ${used.map((u) => FRAGMENTS[u]!).join(' AND ')}` : '';
      const countParams = used.filter((u) => u !== 'after');
      const countWhere = countParams.length ? `WHERE ${countParams.map((u) => FRAGMENTS[u]!).join(' AND ')}` : '';
      st = {
        rows: this.db.prepare(`SELECT * FROM jobs ${where} ORDER BY seq DESC LIMIT @limit OFFSET @offset`),
        // The total ignores the `after` cursor: it counts every page.
        count: this.db.prepare(`SELECT COUNT(*) AS n FROM jobs ${countWhere}`),
      };
      this.cache.set(key, st);
    }
    return st;
  }
}
