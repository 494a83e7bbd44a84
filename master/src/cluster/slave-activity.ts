/**
 * The cluster as the `/slaves` page and `GET /api/v1/slaves` show it: every slave the master knows
 * with its backends, capacity (the concurrency it registered), the jobs it runs now, how many it
 * completed in the last hour, its last heartbeat, and whether it drains. Draining reuses the queue's
 * drain (JobQueue.drain: the slave's next heartbeat carries the `drain` command, it finishes its
 * running jobs and leases nothing new); `undrain` withdraws a request the slave has not acted on.
 *
 * Everything here reads the queue's own tables (slaves, attempts); nothing a slave sent is trusted
 * for shape: capabilities are parsed defensively (non-arrays and non-numbers become empty / null).
 */
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';
import type { SlaveSummary } from '../user-api.js';

/** One hour, the window of `completedLastHour`. */
export const THROUGHPUT_WINDOW_MS = 3_600_000;

/** How a slave is doing, as the page colours it. */
export type SlaveStatus = 'working' | 'idle' | 'draining' | 'drain-requested' | 'offline' | 'unregistered';

/** A slave with its activity (SlaveSummary's fields plus the cluster view's). */
export interface SlaveOverview extends SlaveSummary {
  /** Backends it registered (`bwrap`, `qemu`, …). */
  backends: string[];
  /** Jobs it runs at once, as it registered (null before it registered). */
  capacity: number | null;
  /** Jobs it runs now (its active leases). */
  running: number;
  /** Attempts it completed (a report or a final error) in the last hour. */
  completedLastHour: number;
  /** Attempts it lost in the last hour (lease expired, retried, voided). */
  failedLastHour: number;
  status: SlaveStatus;
}

interface Row {
  name: string;
  host: string | null;
  version: string | null;
  capabilities: string | null;
  last_seen: number | null;
  draining: number;
  drain_requested: number;
  active: number;
  completed: number;
  failed: number;
}

function parseCapabilities(text: string | null): { caps: unknown; backends: string[]; capacity: number | null } {
  if (text === null) return { caps: null, backends: [], capacity: null };
  let caps: unknown = null;
  try {
    caps = JSON.parse(text) as unknown;
  } catch {
    return { caps: null, backends: [], capacity: null };
  }
  const o = typeof caps === 'object' && caps !== null ? caps as Record<string, unknown> : {};
  const backends = Array.isArray(o.backends) ? o.backends.filter((b): b is string => typeof b === 'string').slice(0, 16) : [];
  const capacity = typeof o.concurrency === 'number' && Number.isInteger(o.concurrency) && o.concurrency >= 0 ? o.concurrency : null;
  return { caps, backends, capacity };
}

/** Reads the slaves' activity and withdraws drain requests (see the module comment). */
export class SlaveActivity {
  private readonly st;

  /** `offlineAfterMs`: a slave silent for longer is shown offline (the lease length is a good value). */
  constructor(db: Db, private readonly clock: Clock, private readonly offlineAfterMs: number) {
    this.st = {
      all: db.prepare(`SELECT s.*,
          (SELECT COUNT(*) FROM attempts a WHERE a.slave = s.name AND a.state = 'active') AS active,
          (SELECT COUNT(*) FROM attempts a WHERE a.slave = s.name AND a.state = 'completed' AND a.ended_at > @since) AS completed,
          (SELECT COUNT(*) FROM attempts a WHERE a.slave = s.name AND a.state IN ('expired', 'retried', 'voided') AND a.ended_at > @since) AS failed
        FROM slaves s ORDER BY s.name`),
      undrain: db.prepare('UPDATE slaves SET drain_requested = 0 WHERE name = ?'),
    };
  }

  /** Every slave the master knows, by name. */
  overview(): SlaveOverview[] {
    const now = this.clock.now();
    return (this.st.all.all({ since: now - THROUGHPUT_WINDOW_MS }) as Row[]).map((r) => {
      const { caps, backends, capacity } = parseCapabilities(r.capabilities);
      const offline = r.last_seen === null || now - r.last_seen > this.offlineAfterMs;
      const status: SlaveStatus = r.capabilities === null ? 'unregistered'
        : r.draining === 1 ? 'draining'
          : r.drain_requested === 1 ? 'drain-requested'
            : offline ? 'offline'
              : r.active > 0 ? 'working' : 'idle';
      return {
        name: r.name,
        host: r.host,
        version: r.version,
        capabilities: caps,
        lastSeen: r.last_seen === null ? null : new Date(r.last_seen).toISOString(),
        draining: r.draining === 1,
        drainRequested: r.drain_requested === 1,
        activeLeases: r.active,
        backends,
        capacity,
        running: r.active,
        completedLastHour: r.completed,
        failedLastHour: r.failed,
        status,
      };
    });
  }

  /** One slave, or null. */
  one(name: string): SlaveOverview | null {
    return this.overview().find((s) => s.name === name) ?? null;
  }

  /**
   * Withdraws a drain request. A slave that already received the `drain` command is draining on its
   * own side (it finishes and exits); it works again once restarted, as its registration clears both flags.
   */
  undrain(name: string): void {
    this.st.undrain.run(name);
  }
}
