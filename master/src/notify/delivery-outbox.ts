/**
 * The notification outbox (the `notification_deliveries` table): one delivery per (channel, target,
 * audit, event), written in the same transaction that stores the audit's report, so nothing is lost
 * across a restart; the sender then sends it (`pending` → `sent`, or `failed` once its attempts are
 * used up) and keeps the attempts, last error and last response code as the delivery log.
 */
import type { Db } from '../db/database.js';
import type { NotifyEvent } from './notify-events.js';

export type DeliveryChannel = 'webhook' | 'email';

/** One stored delivery. */
export interface DeliveryRow {
  id: number;
  channel: DeliveryChannel;
  /** A webhook id, or `smtp`. */
  target: string;
  job_seq: number;
  event: NotifyEvent;
  body: string;
  state: 'pending' | 'sent' | 'failed';
  attempts: number;
  last_error: string | null;
  response_code: number | null;
  next_at: number;
  created_at: number;
  delivered_at: number | null;
}

/** A delivery as the user API shows it. */
export interface DeliveryView {
  id: number;
  event: NotifyEvent;
  auditId: string;
  state: DeliveryRow['state'];
  attempts: number;
  lastError: string | null;
  responseCode: number | null;
  createdAt: string;
  deliveredAt: string | null;
  /** When the next attempt is due (pending deliveries only). */
  nextAttemptAt: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export class DeliveryOutbox {
  private readonly st;

  constructor(db: Db) {
    this.st = {
      insert: db.prepare(`INSERT OR IGNORE INTO notification_deliveries (channel, target, job_seq, event, body, state, attempts, next_at, created_at)
        VALUES (@channel, @target, @job_seq, @event, @body, 'pending', 0, @now, @now)`),
      due: db.prepare(`SELECT * FROM notification_deliveries WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?`),
      sent: db.prepare(`UPDATE notification_deliveries SET state = 'sent', attempts = attempts + 1, last_error = NULL, response_code = @code,
        delivered_at = @now WHERE id = @id`),
      retry: db.prepare(`UPDATE notification_deliveries SET attempts = attempts + 1, last_error = @error, response_code = @code, next_at = @next WHERE id = @id`),
      failed: db.prepare(`UPDATE notification_deliveries SET state = 'failed', attempts = attempts + 1, last_error = @error, response_code = @code WHERE id = @id`),
      ofTarget: db.prepare(`SELECT d.*, j.id AS job_id FROM notification_deliveries d JOIN jobs j ON j.seq = d.job_seq
        WHERE d.target = ? ORDER BY d.id DESC LIMIT ?`),
      all: db.prepare('SELECT * FROM notification_deliveries ORDER BY id'),
    };
  }

  /** Queues one delivery; false when that target already has one for this audit and event. */
  enqueue(channel: DeliveryChannel, target: string, jobSeq: number, event: NotifyEvent, body: string, now: number): boolean {
    return this.st.insert.run({ channel, target, job_seq: jobSeq, event, body, now }).changes === 1;
  }

  /** Pending deliveries whose time has come, oldest first. */
  due(now: number, max = 50): DeliveryRow[] {
    return this.st.due.all(now, max) as DeliveryRow[];
  }

  markSent(id: number, code: number | null, now: number): void {
    this.st.sent.run({ id, code, now });
  }

  /** Records a failed attempt: tried again at `nextAt`, or (null) failed for good. */
  markFailed(id: number, error: string, code: number | null, nextAt: number | null): void {
    if (nextAt === null) this.st.failed.run({ id, error: error.slice(0, 2000), code });
    else this.st.retry.run({ id, error: error.slice(0, 2000), code, next: nextAt });
  }

  /** The delivery log of one target (a webhook id, or `smtp`), newest first. */
  ofTarget(target: string, limit = 100): DeliveryView[] {
    return (this.st.ofTarget.all(target, limit) as (DeliveryRow & { job_id: string })[]).map((r) => ({
      id: r.id, event: r.event, auditId: r.job_id, state: r.state, attempts: r.attempts, lastError: r.last_error, responseCode: r.response_code,
      createdAt: iso(r.created_at)!, deliveredAt: iso(r.delivered_at), nextAttemptAt: r.state === 'pending' ? iso(r.next_at) : null,
    }));
  }

  all(): DeliveryRow[] {
    return this.st.all.all() as DeliveryRow[];
  }
}
