/**
 * The change-log cursor of one index URL in the master's database: the last serial processed (moved
 * only by the ingest, in the transaction that stores the jobs it produced), the index's last serial
 * when last asked, poll times, the last error, and the RSS watcher's state. A cursor belongs to one
 * index URL: following another index starts afresh.
 */
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';
import type { FeedStatus } from '../user-api.js';

/** A row of `feed_cursors`. */
export interface CursorRow {
  index_url: string;
  last_serial: number | null;
  index_last_serial: number | null;
  last_poll_at: number | null;
  last_success_at: number | null;
  last_error_code: string | null;
  last_error_message: string | null;
  last_error_at: number | null;
  events_ingested: number;
  events_ignored: number;
  rss_state: string | null;
  rss_last_poll_at: number | null;
  rss_error_code: string | null;
  rss_error_message: string | null;
  rss_gaps: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class FeedCursor {
  private readonly st;

  constructor(db: Db, readonly indexUrl: string, private readonly clock: Clock) {
    this.st = {
      ensure: db.prepare('INSERT OR IGNORE INTO feed_cursors (index_url) VALUES (?)'),
      get: db.prepare('SELECT * FROM feed_cursors WHERE index_url = ?'),
      advance: db.prepare(`UPDATE feed_cursors SET last_serial = CASE WHEN COALESCE(last_serial, @serial) > @serial THEN COALESCE(last_serial, @serial) ELSE @serial END, events_ingested = events_ingested + @ingested,
        events_ignored = events_ignored + @ignored WHERE index_url = @url`),
      start: db.prepare('UPDATE feed_cursors SET last_serial = ? WHERE index_url = ? AND last_serial IS NULL'),
      rewind: db.prepare('UPDATE feed_cursors SET last_serial = ? WHERE index_url = ?'),
      polled: db.prepare('UPDATE feed_cursors SET last_poll_at = @now, index_last_serial = COALESCE(@indexSerial, index_last_serial) WHERE index_url = @url'),
      succeeded: db.prepare(`UPDATE feed_cursors SET last_success_at = ?, last_error_code = NULL, last_error_message = NULL, last_error_at = NULL
        WHERE index_url = ?`),
      failed: db.prepare('UPDATE feed_cursors SET last_error_code = ?, last_error_message = ?, last_error_at = ? WHERE index_url = ?'),
      rssPolled: db.prepare(`UPDATE feed_cursors SET rss_last_poll_at = @now, rss_state = COALESCE(@state, rss_state), rss_error_code = @code,
        rss_error_message = @message, rss_gaps = rss_gaps + @gaps WHERE index_url = @url`),
    };
    this.st.ensure.run(indexUrl);
  }

  /** The row as stored. */
  row(): CursorRow {
    return this.st.get.get(this.indexUrl) as CursorRow;
  }

  /** The last serial processed, or null before the first poll. */
  serial(): number | null {
    return this.row().last_serial;
  }

  /** Moves the cursor forward (never back) and adds to the event counts. Call inside the ingest's transaction. */
  advance(serial: number, ingested: number, ignored: number): void {
    this.st.advance.run({ serial, ingested, ignored, url: this.indexUrl });
  }

  /** Sets the first cursor (first start: only what comes after `serial`); no-op once there is one. */
  startAt(serial: number): void {
    this.st.start.run(serial, this.indexUrl);
  }

  /**
   * Moves the cursor back to `serial`: only for a cursor beyond the index's own last serial (one an
   * untrusted change-log entry put there), which would otherwise stop following for good.
   */
  rewind(serial: number): void {
    this.st.rewind.run(serial, this.indexUrl);
  }

  /** Records a poll (and the index's last serial when it was asked). */
  polled(indexSerial: number | null): void {
    this.st.polled.run({ now: this.clock.now(), indexSerial, url: this.indexUrl });
  }

  /** Records a successful poll (clears the error). */
  succeeded(): void {
    this.st.succeeded.run(this.clock.now(), this.indexUrl);
  }

  /** Records a failed poll; the serial does not move. */
  failed(code: string, message: string): void {
    this.st.failed.run(code, message.slice(0, 2000), this.clock.now(), this.indexUrl);
  }

  /** Records an RSS poll: the watcher's state (JSON, null: unchanged), its error (null: none) and gaps seen. */
  rssPolled(state: string | null, error: { code: string; message: string } | null, gaps: number): void {
    this.st.rssPolled.run({ now: this.clock.now(), state, code: error?.code ?? null, message: error?.message.slice(0, 2000) ?? null, gaps, url: this.indexUrl });
  }

  /** The API's view. */
  status(following: boolean): FeedStatus {
    const r = this.row();
    return {
      indexUrl: r.index_url,
      following,
      cursor: r.last_serial,
      indexSerial: r.index_last_serial,
      lag: r.last_serial !== null && r.index_last_serial !== null ? Math.max(0, r.index_last_serial - r.last_serial) : null,
      lastPollAt: iso(r.last_poll_at),
      lastSuccessAt: iso(r.last_success_at),
      lastError: r.last_error_code ? { code: r.last_error_code, message: r.last_error_message ?? '', at: iso(r.last_error_at)! } : null,
      eventsIngested: r.events_ingested,
      eventsIgnored: r.events_ignored,
      rss: { lastPollAt: iso(r.rss_last_poll_at), lastError: r.rss_error_code ? { code: r.rss_error_code, message: r.rss_error_message ?? '' } : null, gaps: r.rss_gaps },
    };
  }
}
