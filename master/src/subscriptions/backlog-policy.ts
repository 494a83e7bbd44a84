/**
 * A subscription's backlog limit and its policy, applied inside an ingest's transaction by every
 * kind that submits audits (the index's change log, git commits): `pause` stops the subscription
 * before a submission that would exceed the limit; `drop-oldest` cancels the oldest queued audits
 * past it once the batch is submitted, marking them dropped (an audit another subscription shares is
 * not cancelled: only this subscription's link is dropped).
 */
import type { Db } from '../db/database.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { ReleaseLedger } from './release-ledger.js';
import type { SubscriptionRow } from './subscription-store.js';

type BacklogRow = Pick<SubscriptionRow, 'id' | 'backlog_limit' | 'backlog_policy' | 'paused'>;

export class BacklogPolicy {
  private readonly pauseStmt;

  constructor(db: Db, private readonly ledger: ReleaseLedger, private readonly queue: JobQueue) {
    this.pauseStmt = db.prepare('UPDATE subscriptions SET paused = 1, paused_reason = ?, paused_at = ?, updated_at = ? WHERE id = ?');
  }

  /**
   * Policy `pause`: when `queued` audits already fill the limit, pauses the subscription (also in
   * `row`, `paused = 1`) with the reason, and returns true: the next audit is not to be submitted.
   */
  pauseIfFull(row: BacklogRow, queued: number, now: number): boolean {
    const limit = row.backlog_limit;
    if (limit === null || row.backlog_policy !== 'pause' || queued < limit) return false;
    this.pauseStmt.run(`backlog limit reached: ${queued} audits queued, limit ${limit}`, now, now, row.id);
    row.paused = 1;
    return true;
  }

  /** Policy `drop-oldest`: cancels the oldest queued audits past the limit and marks them dropped; returns how many. */
  dropOldest(row: BacklogRow, queued: number): number {
    const limit = row.backlog_limit;
    if (limit === null || row.backlog_policy !== 'drop-oldest' || queued <= limit) return 0;
    const excess = this.ledger.oldestQueued(row.id, queued - limit);
    for (const l of excess) {
      // An audit another subscription shares goes on for that one; this subscription only lets go of it.
      if (!this.ledger.wantedElsewhere(l.job_id, row.id)) this.queue.cancel(l.job_id);
      this.ledger.dropped(l.job_id, row.id, `dropped: more than ${limit} audits queued (backlog limit, drop-oldest)`);
    }
    return excess.length;
  }
}
