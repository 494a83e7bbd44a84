/**
 * PEP 792 project status as the master last read it from the index (`active`, `archived`,
 * `quarantined`, `deprecated`), per PEP 503 normalized project, with when it last changed. A project
 * the index quarantined after PyTI audited it is a ground truth for verdict quality: the audits that
 * finished before the quarantine are marked (`quarantinedAfter`) on the API and pages.
 */
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';

/** A project's recorded status. */
export interface ProjectStatusRecord {
  project: string;
  status: string;
  reason: string | null;
  /** The project's serial when the status was read, if known. */
  serial: number | null;
  /** When the master first saw this status (ISO). */
  changedAt: string;
  /** When it last read it (ISO). */
  checkedAt: string;
}

interface Row {
  normalized: string;
  status: string;
  reason: string | null;
  serial: number | null;
  changed_at: number;
  checked_at: number;
}

const toRecord = (r: Row): ProjectStatusRecord => ({
  project: r.normalized, status: r.status, reason: r.reason, serial: r.serial,
  changedAt: new Date(r.changed_at).toISOString(), checkedAt: new Date(r.checked_at).toISOString(),
});

export class ProjectStatusStore {
  private readonly st;

  constructor(db: Db, private readonly clock: Clock) {
    this.st = {
      get: db.prepare('SELECT * FROM project_status WHERE normalized = ?'),
      insert: db.prepare(`INSERT INTO project_status (normalized, status, reason, serial, changed_at, checked_at) VALUES (@n, @status, @reason, @serial, @now, @now)
        ON CONFLICT (normalized) DO UPDATE SET status = excluded.status, reason = excluded.reason, serial = excluded.serial,
        changed_at = CASE WHEN project_status.status = excluded.status THEN project_status.changed_at ELSE excluded.changed_at END,
        checked_at = excluded.checked_at`),
      quarantined: db.prepare("SELECT * FROM project_status WHERE status <> 'active' ORDER BY changed_at DESC LIMIT ?"),
    };
  }

  /**
   * Records the status read for `normalized` (a normalized project name); returns true when it
   * differs from the one recorded (or none was, and it is not `active`).
   */
  record(normalized: string, status: string, reason: string | null, serial: number | null): boolean {
    const before = this.get(normalized);
    this.st.insert.run({ n: normalized, status, reason: reason?.slice(0, 500) ?? null, serial, now: this.clock.now() });
    return before ? before.status !== status : status !== 'active';
  }

  /** The recorded status of a project, if any was read. */
  get(normalized: string): ProjectStatusRecord | undefined {
    const r = this.st.get.get(normalized) as Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  /** Projects whose status is not active, most recently changed first. */
  notActive(limit = 200): ProjectStatusRecord[] {
    return (this.st.quarantined.all(limit) as Row[]).map(toRecord);
  }
}
