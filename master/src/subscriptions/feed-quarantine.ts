/**
 * What the master set aside while following an index, instead of stalling on it: change-log entries
 * whose serial cannot be trusted or whose fields are not the expected types, and releases whose
 * JSON API document is malformed or names another project. Each is recorded once (then counted each
 * time it is seen again), with a stable code and the reason, and shown at `GET /api/v1/feed/quarantine`
 * and in `GET /api/v1/feed` (`quarantined`). The follower moves on; an operator can submit a
 * quarantined release by hand once the index serves it properly.
 *
 * Security: every text comes from the index; it is capped here and escaped wherever it is rendered.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';

/** Where a quarantined item came from. */
export type QuarantineSource = 'changelog' | 'release' | 'simple' | 'cursor';

/** One item to set aside. */
export interface QuarantineItem {
  source: QuarantineSource;
  serial: string | null;
  name: string | null;
  version: string | null;
  action: string | null;
  code: string;
  reason: string;
}

/** A quarantined item as the API shows it. */
export interface QuarantinedItem extends QuarantineItem {
  firstAt: string;
  lastAt: string;
  /** How many times it was seen (a change-log entry is met again at every poll until the index drops it). */
  seen: number;
}

/** A stored row: the item's columns, and when and how often it was seen. */
interface Row extends QuarantineItem {
  first_at: number;
  last_at: number;
  seen: number;
}

const cap = (s: string | null, n = 200): string | null => (s === null ? null : s.slice(0, n));

export class FeedQuarantine {
  private readonly st;

  constructor(db: Db, readonly indexUrl: string, private readonly clock: Clock) {
    this.st = {
      find: db.prepare('SELECT seen FROM feed_quarantine WHERE id = ?'),
      insert: db.prepare(`INSERT INTO feed_quarantine (id, index_url, source, serial, name, version, action, code, reason, first_at, last_at, seen)
        VALUES (@id, @url, @source, @serial, @name, @version, @action, @code, @reason, @now, @now, 1)
        ON CONFLICT (id) DO UPDATE SET last_at = excluded.last_at, seen = feed_quarantine.seen + 1, reason = excluded.reason`),
      list: db.prepare('SELECT * FROM feed_quarantine WHERE index_url = ? ORDER BY last_at DESC, id LIMIT ?'),
      count: db.prepare('SELECT COUNT(*) AS n FROM feed_quarantine WHERE index_url = ?'),
    };
  }

  /** Records an item (or counts it seen again); returns true the first time it is seen. */
  record(item: QuarantineItem): boolean {
    const key = [this.indexUrl, item.source, item.serial, item.name, item.version, item.action, item.code].map((v) => v ?? '\u0000').join('\u0001');
    const id = createHash('sha256').update(key).digest('hex').slice(0, 32);
    const known = this.st.find.get(id) !== undefined;
    this.st.insert.run({
      id, url: this.indexUrl, source: item.source, serial: cap(item.serial), name: cap(item.name), version: cap(item.version), action: cap(item.action),
      code: item.code.slice(0, 60), reason: item.reason.slice(0, 1000), now: this.clock.now(),
    });
    return !known;
  }

  /** The most recently seen items, newest first. */
  list(limit = 100): QuarantinedItem[] {
    return (this.st.list.all(this.indexUrl, limit) as Row[]).map((r) => ({
      source: r.source, serial: r.serial, name: r.name, version: r.version, action: r.action, code: r.code, reason: r.reason,
      firstAt: new Date(r.first_at).toISOString(), lastAt: new Date(r.last_at).toISOString(), seen: r.seen,
    }));
  }

  /** How many items are quarantined. */
  count(): number {
    return (this.st.count.get(this.indexUrl) as { n: number }).n;
  }
}
