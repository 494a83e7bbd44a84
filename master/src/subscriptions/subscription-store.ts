/**
 * Subscriptions in the master's database: create, read, change, remove, and the audits each one
 * submitted. Removing a subscription cancels its queued audits (running and finished ones stay).
 */
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { BacklogPolicy, SubscriptionAudit, SubscriptionSummary } from '../user-api.js';
import { SubscriptionExistsError, SubscriptionNotFoundError } from './subscription-errors.js';
import type { CheckedCreate, CheckedUpdate } from './subscription-request.js';

/** A row of the `subscriptions` table. */
export interface SubscriptionRow {
  id: number;
  name: string;
  kind: string;
  spec: string;
  priority: number;
  backend: string | null;
  paused: number;
  paused_reason: string | null;
  paused_at: number | null;
  backlog_limit: number | null;
  backlog_policy: BacklogPolicy;
  matched: number;
  submitted: number;
  dropped: number;
  cancelled: number;
  skipped: number;
  /** The change-log cursor when it was created: it follows the events after it (null: all). */
  from_serial: number | null;
  created_at: number;
  updated_at: number;
}

interface LinkRow {
  job_id: string;
  normalized: string;
  version: string;
  filename: string;
  serial: number;
  release_state: 'active' | 'yanked' | 'removed';
  dropped_reason: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The API's view of a row; `queued` is how many of its audits are queued now. */
export function toSubscriptionSummary(r: SubscriptionRow, queued: number): SubscriptionSummary {
  return {
    name: r.name,
    kind: r.kind,
    spec: JSON.parse(r.spec) as Record<string, unknown>,
    priority: r.priority,
    backend: r.backend,
    paused: r.paused === 1,
    pausedReason: r.paused_reason,
    pausedAt: iso(r.paused_at),
    backlog: { limit: r.backlog_limit, policy: r.backlog_policy },
    counts: { matched: r.matched, submitted: r.submitted, queued, dropped: r.dropped, cancelled: r.cancelled, skipped: r.skipped },
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
  };
}

/** Adds kind-specific state to a subscription's summary (e.g. a git subscription's cursor). */
export type SummaryExtra = (row: SubscriptionRow) => Partial<SubscriptionSummary>;

export class SubscriptionStore {
  private readonly st;

  constructor(private readonly db: Db, private readonly queue: JobQueue, private readonly clock: Clock, private readonly extra: SummaryExtra = () => ({})) {
    this.st = {
      insert: db.prepare(`INSERT INTO subscriptions (name, kind, spec, priority, backend, backlog_limit, backlog_policy, from_serial, created_at, updated_at)
        VALUES (@name, @kind, @spec, @priority, @backend, @backlog_limit, @backlog_policy, @from_serial, @now, @now)`),
      byName: db.prepare('SELECT * FROM subscriptions WHERE name = ?'),
      all: db.prepare('SELECT * FROM subscriptions ORDER BY name'),
      update: db.prepare(`UPDATE subscriptions SET paused = @paused, paused_reason = @paused_reason, paused_at = @paused_at, priority = @priority,
        backend = @backend, backlog_limit = @backlog_limit, backlog_policy = @backlog_policy, updated_at = @now WHERE id = @id`),
      remove: db.prepare('DELETE FROM subscriptions WHERE id = ?'),
      queuedOf: db.prepare(`SELECT j.id FROM jobs j JOIN subscription_jobs sj ON sj.job_id = j.id WHERE j.state = 'queued' AND sj.subscription_id = ?
        AND sj.dropped_reason IS NULL`),
      queuedCounts: db.prepare(`SELECT sj.subscription_id AS id, COUNT(*) AS n FROM jobs j JOIN subscription_jobs sj ON sj.job_id = j.id
        WHERE j.state = 'queued' AND sj.dropped_reason IS NULL GROUP BY sj.subscription_id`),
      links: db.prepare(`SELECT job_id, normalized, version, filename, serial, release_state, dropped_reason FROM subscription_jobs
        WHERE subscription_id = ? ORDER BY rowid DESC LIMIT ?`),
      kinds: db.prepare('SELECT DISTINCT kind FROM subscriptions'),
      sharedWith: db.prepare('SELECT 1 FROM subscription_jobs WHERE job_id = ? AND subscription_id != ? LIMIT 1'),
    };
  }

  /**
   * Creates a subscription; PYTI_SUBSCRIPTION_EXISTS when the name is taken. `fromSerial`: the
   * change-log cursor now, so it follows only what comes after it (null: everything ingested from now on).
   */
  create(c: CheckedCreate, fromSerial: number | null = null): SubscriptionSummary {
    const now = this.clock.now();
    try {
      this.st.insert.run({
        name: c.name, kind: c.kind, spec: JSON.stringify(c.spec), priority: c.priority, backend: c.backend,
        backlog_limit: c.backlogLimit, backlog_policy: c.backlogPolicy, from_serial: fromSerial, now,
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new SubscriptionExistsError(c.name);
      throw err;
    }
    return this.get(c.name);
  }

  /** The row of `name`; PYTI_SUBSCRIPTION_NOT_FOUND. */
  row(name: string): SubscriptionRow {
    const r = this.st.byName.get(name) as SubscriptionRow | undefined;
    if (!r) throw new SubscriptionNotFoundError(name);
    return r;
  }

  /** Every row, by name. */
  rows(): SubscriptionRow[] {
    return this.st.all.all() as SubscriptionRow[];
  }

  /** The kinds in use. */
  kindsInUse(): string[] {
    return (this.st.kinds.all() as { kind: string }[]).map((r) => r.kind);
  }

  /** One subscription; PYTI_SUBSCRIPTION_NOT_FOUND. */
  get(name: string): SubscriptionSummary {
    const r = this.row(name);
    return { ...toSubscriptionSummary(r, (this.st.queuedOf.all(r.id) as unknown[]).length), ...this.extra(r) };
  }

  /** Every subscription, by name. */
  list(): SubscriptionSummary[] {
    const queued = new Map((this.st.queuedCounts.all() as { id: number; n: number }[]).map((q) => [q.id, q.n]));
    return this.rows().map((r) => ({ ...toSubscriptionSummary(r, queued.get(r.id) ?? 0), ...this.extra(r) }));
  }

  /** Changes a subscription. Resuming clears the pause reason; pausing by a user records `by a user`. */
  update(name: string, u: CheckedUpdate): SubscriptionSummary {
    this.db.transaction(() => {
      const r = this.row(name);
      const now = this.clock.now();
      let { paused, paused_reason: reason, paused_at: at } = r;
      if (u.paused === true && r.paused === 0) [paused, reason, at] = [1, 'paused by a user', now];
      if (u.paused === false) [paused, reason, at] = [0, null, null];
      this.st.update.run({
        id: r.id, paused, paused_reason: reason, paused_at: at, now,
        priority: u.priority ?? r.priority,
        backend: u.backend === undefined ? r.backend : u.backend,
        backlog_limit: u.backlogLimit === undefined ? r.backlog_limit : u.backlogLimit,
        backlog_policy: u.backlogPolicy ?? r.backlog_policy,
      });
    })();
    return this.get(name);
  }

  /** Removes a subscription and cancels its queued audits; returns it as it was and how many were cancelled. */
  remove(name: string): { removed: SubscriptionSummary; cancelled: number } {
    return this.db.transaction(() => {
      const removed = this.get(name);
      const r = this.row(name);
      // An audit another subscription shares stays queued for that one.
      const queued = (this.st.queuedOf.all(r.id) as { id: string }[]).filter((q) => !this.st.sharedWith.get(q.id, r.id));
      for (const q of queued) this.queue.cancel(q.id);
      this.st.remove.run(r.id);
      return { removed, cancelled: queued.length };
    })();
  }

  /** The audits a subscription submitted, newest first. */
  audits(name: string, limit = 50): SubscriptionAudit[] {
    const r = this.row(name);
    const out: SubscriptionAudit[] = [];
    for (const l of this.st.links.all(r.id, limit) as LinkRow[]) {
      const audit = this.queue.summary(l.job_id);
      if (!audit) continue;
      out.push({ audit, project: audit.project, version: l.version, filename: l.filename, serial: l.serial, releaseState: l.release_state, droppedReason: l.dropped_reason });
    }
    return out;
  }
}
