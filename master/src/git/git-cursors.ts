/**
 * The cursors of git subscriptions in the master's database (`git_cursors`, one row per subscription,
 * removed with it): the last commit processed — moved only in the transaction that submits the
 * audits of the commits up to it, so a restart neither replays nor misses a commit — the branch's head
 * when last fetched, counts, the last poll and its error, and the last notable thing a poll did.
 */
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';
import type { GitFollowStatus } from '../user-api.js';

/** A row of `git_cursors`. */
export interface GitCursorRow {
  subscription_id: number;
  last_commit: string | null;
  remote_head: string | null;
  commits_audited: number;
  force_pushes: number;
  last_poll_at: number | null;
  last_success_at: number | null;
  last_error_code: string | null;
  last_error_message: string | null;
  last_error_at: number | null;
  last_note: string | null;
  last_note_at: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Reads and moves the git subscriptions' cursors (see the module comment). */
export class GitCursors {
  private readonly st;

  constructor(db: Db, private readonly clock: Clock) {
    this.st = {
      // Only for a subscription that exists (it may have been removed while a poll ran).
      ensure: db.prepare('INSERT OR IGNORE INTO git_cursors (subscription_id) SELECT id FROM subscriptions WHERE id = ?'),
      get: db.prepare('SELECT * FROM git_cursors WHERE subscription_id = ?'),
      polled: db.prepare('UPDATE git_cursors SET last_poll_at = @now, remote_head = COALESCE(@head, remote_head) WHERE subscription_id = @id'),
      succeeded: db.prepare(`UPDATE git_cursors SET last_success_at = ?, last_error_code = NULL, last_error_message = NULL, last_error_at = NULL
        WHERE subscription_id = ?`),
      failed: db.prepare('UPDATE git_cursors SET last_error_code = ?, last_error_message = ?, last_error_at = ? WHERE subscription_id = ?'),
      advance: db.prepare(`UPDATE git_cursors SET last_commit = @commit, commits_audited = commits_audited + @audited,
        force_pushes = force_pushes + @forced WHERE subscription_id = @id`),
      note: db.prepare('UPDATE git_cursors SET last_note = ?, last_note_at = ? WHERE subscription_id = ?'),
    };
  }

  /** The row of a subscription (created empty on first use; an empty one, not stored, when the subscription is gone). */
  row(subscriptionId: number): GitCursorRow {
    this.st.ensure.run(subscriptionId);
    return (this.st.get.get(subscriptionId) as GitCursorRow | undefined) ?? {
      subscription_id: subscriptionId, last_commit: null, remote_head: null, commits_audited: 0, force_pushes: 0, last_poll_at: null,
      last_success_at: null, last_error_code: null, last_error_message: null, last_error_at: null, last_note: null, last_note_at: null,
    };
  }

  /** Records a poll, and the head it fetched (null: the fetch failed). */
  polled(subscriptionId: number, head: string | null): void {
    this.row(subscriptionId);
    this.st.polled.run({ now: this.clock.now(), head, id: subscriptionId });
  }

  /** Records a successful poll (clears the error). */
  succeeded(subscriptionId: number): void {
    this.st.succeeded.run(this.clock.now(), subscriptionId);
  }

  /** Records a failed poll; the cursor does not move. */
  failed(subscriptionId: number, code: string, message: string): void {
    this.row(subscriptionId);
    this.st.failed.run(code, message.slice(0, 2000), this.clock.now(), subscriptionId);
  }

  /** Moves the cursor. Call inside the transaction that submits the audits up to `commit`. */
  advance(subscriptionId: number, commit: string, audited: number, forcePush: boolean): void {
    this.row(subscriptionId);
    this.st.advance.run({ commit, audited, forced: forcePush ? 1 : 0, id: subscriptionId });
  }

  /** Records something notable a poll did (a force-push, a skipped commit). */
  note(subscriptionId: number, text: string): void {
    this.row(subscriptionId);
    this.st.note.run(text.slice(0, 2000), this.clock.now(), subscriptionId);
  }

  /** The API's view (a subscription that was never polled has an empty one). */
  status(subscriptionId: number): GitFollowStatus {
    const r = (this.st.get.get(subscriptionId) as GitCursorRow | undefined) ?? null;
    return {
      cursor: r?.last_commit ?? null,
      head: r?.remote_head ?? null,
      commitsAudited: r?.commits_audited ?? 0,
      forcePushes: r?.force_pushes ?? 0,
      lastPollAt: iso(r?.last_poll_at ?? null),
      lastSuccessAt: iso(r?.last_success_at ?? null),
      lastError: r?.last_error_code ? { code: r.last_error_code, message: r.last_error_message ?? '', at: iso(r.last_error_at)! } : null,
      lastNote: r?.last_note ? { text: r.last_note, at: iso(r.last_note_at)! } : null,
    };
  }
}
