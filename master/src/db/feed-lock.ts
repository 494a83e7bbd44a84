/**
 * "Exactly one master follows this feed": a lock per feed (the index's change log and RSS, the git
 * subscriptions) that a poller checks before every poll. On PostgreSQL it is a session-level advisory
 * lock (`pg_try_advisory_lock`) on the master's one connection: the first master to poll holds it
 * for as long as it lives; the others skip their polls (standing by) and take it over at their next
 * poll once the holder's connection ends (the process exited or was killed: PostgreSQL releases
 * session locks when the connection closes). On SQLite a single master owns the store: always held.
 *
 * Nothing is lost or doubled at a takeover because each poll's results are committed with its
 * cursor in one transaction: the next holder starts from the last committed cursor.
 */
import { createHash } from 'node:crypto';
import { dialectOf, type Db } from './database.js';
import type { PgStore } from './pg-store.js';

/** The first key of every PyTI advisory lock ('pyti'); the second is a hash of the feed's name. */
const NAMESPACE = 0x70797469;

export class FeedLock {
  private readonly key: number;
  private wasHeld: boolean | null = null;

  /** `name` says which feed, e.g. `changelog https://pypi.org`; `log` hears when this master takes or misses the lock. */
  constructor(private readonly db: Db, readonly name: string, private readonly log: (line: string) => void = () => undefined) {
    this.key = createHash('sha256').update(name).digest().readUInt32BE(0) & 0x7fffffff;
  }

  /** Whether this master holds the lock now, taking it when it is free. Never waits. */
  hold(): boolean {
    if (dialectOf(this.db) !== 'postgres') return true;
    const held = this.tryHold();
    if (held !== this.wasHeld) {
      if (held) this.log(`${this.name}: this master follows it${this.wasHeld === false ? ' (taken over)' : ''}`);
      else this.log(`${this.name}: another master follows it; this one stands by`);
      this.wasHeld = held;
    }
    return held;
  }

  private tryHold(): boolean {
    const store = this.db as unknown as PgStore;
    const mine = store.queryNative(`SELECT 1 AS x FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
      AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 2`, [NAMESPACE, this.key]);
    if (mine.length > 0) return true;
    const r = store.queryNative('SELECT pg_try_advisory_lock($1::int4, $2::int4) AS ok', [NAMESPACE, this.key]);
    return r[0]?.ok === 1;
  }
}
