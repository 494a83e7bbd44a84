/**
 * The previous release of a project, as the master audited it: among finished audits (with a stored
 * report) of the same project (PEP 503 normalized) stored before this one, the highest version below
 * this one (PEP 440 ordering; the newest audit of it). Versions that are not PEP 440 (git commits)
 * have no order: their previous release is the newest earlier audit of another version.
 */
import type { Db } from '../db/database.js';
import { compareVersions, isValidVersion, normalizeName } from '../feeds/pep.js';
import { registerSqlFunctions } from './sql-functions.js';

/** A previous audit: its id, version and stored report JSON. */
export interface PreviousAudit {
  seq: number;
  id: string;
  version: string;
  reportJson: string;
}

/** How many earlier audits of a project are looked at (newest first). */
const LOOK_BACK = 500;

export class PreviousReleaseFinder {
  private readonly st;

  constructor(db: Db) {
    registerSqlFunctions(db);
    this.st = {
      earlier: db.prepare(`SELECT j.seq, j.id, j.version FROM jobs j JOIN reports r ON r.job_seq = j.seq
        WHERE pyti_normalize(j.project) = ? AND j.state = 'done' AND j.seq < ? AND j.version != ? ORDER BY j.seq DESC LIMIT ${LOOK_BACK}`),
      report: db.prepare('SELECT report FROM reports WHERE job_seq = ?'),
    };
  }

  /** The previous release's audit of `project` before the audit `seq` of `version`, or null. */
  find(project: string, version: string, seq: number): PreviousAudit | null {
    const rows = this.st.earlier.all(normalizeName(project), seq, version) as { seq: number; id: string; version: string }[];
    let best: (typeof rows)[number] | undefined;
    if (isValidVersion(version)) {
      for (const r of rows) {
        if (!isValidVersion(r.version) || compareVersions(r.version, version) >= 0) continue;
        if (!best || compareVersions(r.version, best.version) > 0) best = r;
      }
    } else {
      best = rows[0];
    }
    if (!best) return null;
    const rep = this.st.report.get(best.seq) as { report: string };
    return { ...best, reportJson: rep.report };
  }
}
