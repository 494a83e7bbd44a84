/**
 * Each subscription as `/subscriptions` and `GET /api/v1/cluster/subscriptions` show it: where it
 * follows from (its cursor: the change-log serial for the index's kinds, the last commit for git),
 * how far behind it is (serials behind the index's last serial, or whether the branch's head is past
 * the cursor; the time since its last successful poll; the age of its oldest queued audit) and its
 * backlog (queued and running audits against its limit); and its audits, newest first, paged.
 */
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { SubscriptionService } from '../subscriptions/subscription-service.js';
import { subscriptionKind } from '../subscriptions/subscription-kinds.js';
import type { SubscriptionAudit, SubscriptionSummary } from '../user-api.js';

/** A subscription with its cursor, lag and backlog. */
export interface SubscriptionStatus {
  subscription: SubscriptionSummary;
  cursor: { kind: 'serial'; serial: number | null } | { kind: 'commit'; commit: string | null; head: string | null };
  lag: {
    /** For the index's kinds: the index's last serial minus the cursor (null until both are known). */
    serials: number | null;
    /** For git: whether the branch's head (when last fetched) is past the cursor. */
    headAhead: boolean | null;
    /** Since the last successful poll (null: never polled successfully). */
    sinceLastSuccessMs: number | null;
    /** Age of its oldest queued audit (null: none queued): how long its work has waited. */
    oldestQueuedMs: number | null;
  };
  backlog: { queued: number; running: number; limit: number | null; policy: string; full: boolean };
  /** The last poll error (the feed's for the index's kinds, the subscription's own for git). */
  lastError: { code: string; message: string; at: string } | null;
}

/** One page of a subscription's audits: `next` is the `before` of the following page (null: last page). */
export interface SubscriptionAuditPage {
  audits: SubscriptionAudit[];
  total: number;
  next: number | null;
}

export class SubscriptionStatusReader {
  private readonly st;

  constructor(db: Db, private readonly subs: SubscriptionService, private readonly queue: JobQueue, private readonly clock: Clock) {
    this.st = {
      idOf: db.prepare('SELECT id FROM subscriptions WHERE name = ?'),
      activity: db.prepare(`SELECT sj.subscription_id AS id, SUM(j.state = 'queued') AS queued, SUM(j.state = 'running') AS running,
          MIN(CASE WHEN j.state = 'queued' THEN j.submitted_at END) AS oldest
        FROM subscription_jobs sj JOIN jobs j ON j.id = sj.job_id WHERE j.state IN ('queued', 'running') GROUP BY sj.subscription_id`),
      count: db.prepare('SELECT COUNT(*) AS n FROM subscription_jobs WHERE subscription_id = ?'),
      page: db.prepare(`SELECT rowid AS rid, job_id, version, filename, serial, release_state, dropped_reason FROM subscription_jobs
        WHERE subscription_id = @id AND (@before IS NULL OR rowid < @before) ORDER BY rowid DESC LIMIT @limit`),
    };
  }

  /** Every subscription, by name. */
  list(): SubscriptionStatus[] {
    const now = this.clock.now();
    const feed = this.subs.feedStatus();
    const act = new Map((this.st.activity.all() as { id: number; queued: number; running: number; oldest: number | null }[]).map((r) => [r.id, r]));
    const ids = new Map(this.subs.store.rows().map((r) => [r.name, r.id]));
    return this.subs.list().map((s) => {
      const a = act.get(ids.get(s.name) ?? -1);
      const queued = a?.queued ?? 0;
      const backlog = { queued, running: a?.running ?? 0, limit: s.backlog.limit, policy: s.backlog.policy, full: s.backlog.limit !== null && queued >= s.backlog.limit };
      const oldestQueuedMs = a?.oldest != null ? Math.max(0, now - a.oldest) : null;
      const since = (iso: string | null) => (iso === null ? null : Math.max(0, now - Date.parse(iso)));
      if (s.git) {
        return {
          subscription: s,
          cursor: { kind: 'commit', commit: s.git.cursor, head: s.git.head },
          lag: { serials: null, headAhead: s.git.head === null ? null : s.git.head !== s.git.cursor, sinceLastSuccessMs: since(s.git.lastSuccessAt), oldestQueuedMs },
          backlog,
          lastError: s.git.lastError,
        };
      }
      const followsIndex = subscriptionKind(s.kind)?.followsIndex === true;
      return {
        subscription: s,
        cursor: { kind: 'serial', serial: followsIndex ? feed.cursor : null },
        lag: { serials: followsIndex ? feed.lag : null, headAhead: null, sinceLastSuccessMs: followsIndex ? since(feed.lastSuccessAt) : null, oldestQueuedMs },
        backlog,
        lastError: followsIndex ? feed.lastError : null,
      };
    });
  }

  /** One subscription; PYTI_SUBSCRIPTION_NOT_FOUND. */
  one(name: string): SubscriptionStatus {
    this.subs.get(name);
    return this.list().find((s) => s.subscription.name === name)!;
  }

  /** A page of its audits, newest first (`before`: the `next` of the previous page). PYTI_SUBSCRIPTION_NOT_FOUND. */
  audits(name: string, opts: { before?: number; limit?: number } = {}): SubscriptionAuditPage {
    this.subs.get(name);
    const { id } = this.st.idOf.get(name) as { id: number };
    const limit = opts.limit ?? 50;
    type Link = { rid: number; job_id: string; version: string; filename: string; serial: number; release_state: SubscriptionAudit['releaseState']; dropped_reason: string | null };
    const rows = this.st.page.all({ id, before: opts.before ?? null, limit: limit + 1 }) as Link[];
    const more = rows.length > limit;
    const shown = rows.slice(0, limit);
    const audits: SubscriptionAudit[] = [];
    for (const l of shown) {
      const audit = this.queue.summary(l.job_id);
      if (audit) audits.push({ audit, project: audit.project, version: l.version, filename: l.filename, serial: l.serial, releaseState: l.release_state, droppedReason: l.dropped_reason });
    }
    return { audits, total: (this.st.count.get(id) as { n: number }).n, next: more ? shown[shown.length - 1]!.rid : null };
  }
}
