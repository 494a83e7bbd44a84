/**
 * A project's audit history, over the master's database (read only): every audit of a project (by
 * its PEP 503 normalized name, `jobs.project_key`), the project's name and summary from its newest
 * stored report, and for one audit the audits before it:
 *
 * - `previousRelease`: the done audit of the release just before this one — the highest version
 *   below this audit's (PEP 440 order), its newest audit if that release was audited more than once.
 *   When this audit's version is not a PEP 440 version (a git commit), the newest done audit
 *   submitted before it with another version.
 * - `previousOfSameRelease`: the newest done audit of the same release and file submitted before
 *   this one (a re-audit of the same file), when there is one.
 *
 * Only `done` audits (those with a report) are candidates: a diff needs two reports.
 */
import type { Db } from '../db/database.js';
import { projectKey } from '../db/migration-project-key.js';
import { compareVersions, isValidVersion } from '../feeds/pep.js';
import { toSummary, type JobRow } from '../queue/job-rows.js';
import type { AuditSummary } from '../user-api.js';

/** A link to another audit. */
export interface AuditRef {
  id: string;
  version: string;
  filename: string | null;
  verdict: string | null;
  result: string | null;
  submittedAt: string;
}

/** The audits before one audit (see the module comment). */
export interface AuditHistoryLinks {
  previousRelease: AuditRef | null;
  previousOfSameRelease: AuditRef | null;
}

/** What a stored report says about the project (its newest done audit's distribution metadata). */
export interface ProjectMetadata {
  name: string;
  version: string;
  summary: string | null;
}

/** Most audits a project page lists. */
export const MAX_PROJECT_AUDITS = 2000;

interface HistRow {
  seq: number;
  id: string;
  version: string;
  filename: string | null;
  report_filename: string | null;
  verdict: string | null;
  result: string | null;
  submitted_at: number;
  source_kind: string;
}

const ref = (r: HistRow): AuditRef => ({
  id: r.id, version: r.version, filename: r.filename ?? r.report_filename, verdict: r.verdict, result: r.result, submittedAt: new Date(r.submitted_at).toISOString(),
});

export class ProjectHistory {
  private readonly st;

  constructor(db: Db) {
    this.st = {
      audits: db.prepare(`SELECT * FROM jobs WHERE project_key = ? ORDER BY seq DESC LIMIT ${MAX_PROJECT_AUDITS}`),
      count: db.prepare('SELECT COUNT(*) AS n FROM jobs WHERE project_key = ?'),
      done: db.prepare(`SELECT j.seq, j.id, j.version, j.filename, j.verdict, j.result, j.submitted_at, j.source_kind,
        CASE WHEN json_valid(r.report) THEN json_extract(r.report, '$.distribution.filename') END AS report_filename
        FROM jobs j JOIN reports r ON r.job_seq = j.seq WHERE j.project_key = ? AND j.state = 'done' ORDER BY j.seq DESC LIMIT ${MAX_PROJECT_AUDITS}`),
      job: db.prepare('SELECT seq, id, project_key, version, filename, source_kind FROM jobs WHERE id = ?'),
      reportFilename: db.prepare(`SELECT CASE WHEN json_valid(report) THEN json_extract(report, '$.distribution.filename') END AS f FROM reports WHERE job_seq = ?`),
      metadata: db.prepare(`SELECT json_extract(r.report, '$.distribution.name') AS name, json_extract(r.report, '$.distribution.version') AS version,
        json_extract(r.report, '$.distribution.summary') AS summary
        FROM jobs j JOIN reports r ON r.job_seq = j.seq WHERE j.project_key = ? AND j.state = 'done' AND json_valid(r.report) ORDER BY j.seq DESC LIMIT 1`),
    };
  }

  /** Every audit of a project (any spelling of its name), newest first, at most MAX_PROJECT_AUDITS, and how many there are. */
  audits(name: string): { audits: AuditSummary[]; total: number } {
    const key = projectKey(name);
    const rows = this.st.audits.all(key) as JobRow[];
    return { audits: rows.map((j) => toSummary(j)), total: (this.st.count.get(key) as { n: number }).n };
  }

  /** The project's name, version and summary as its newest stored report gives them, or null. */
  metadata(name: string): ProjectMetadata | null {
    const r = this.st.metadata.get(projectKey(name)) as { name: unknown; version: unknown; summary: unknown } | undefined;
    if (!r || typeof r.name !== 'string') return null;
    return { name: r.name, version: typeof r.version === 'string' ? r.version : '', summary: typeof r.summary === 'string' ? r.summary : null };
  }

  /** The audits before audit `id` (see the module comment); null when there is no such audit. */
  linksOf(id: string): AuditHistoryLinks | null {
    const j = this.st.job.get(id) as { seq: number; id: string; project_key: string | null; version: string; filename: string | null; source_kind: string } | undefined;
    if (!j) return null;
    if (!j.project_key) return { previousRelease: null, previousOfSameRelease: null };
    const done = (this.st.done.all(j.project_key) as HistRow[]).filter((r) => r.seq !== j.seq);
    const file = j.filename ?? ((this.st.reportFilename.get(j.seq) as { f: unknown } | undefined)?.f as string | undefined) ?? null;
    const sameRelease = (r: HistRow): boolean => r.version === j.version || (isValidVersion(r.version) && isValidVersion(j.version) && compareVersions(r.version, j.version) === 0);
    const sameFile = done.find((r) => r.seq < j.seq && sameRelease(r) && (file === null || (r.filename ?? r.report_filename) === null || (r.filename ?? r.report_filename) === file));
    let prev: HistRow | undefined;
    if (j.source_kind !== 'git' && isValidVersion(j.version)) {
      for (const r of done) {
        if (!isValidVersion(r.version) || compareVersions(r.version, j.version) >= 0) continue;
        // `done` is newest first: a higher version wins; the same version keeps the newest audit.
        if (!prev || compareVersions(r.version, prev.version) > 0) prev = r;
      }
    } else {
      prev = done.find((r) => r.seq < j.seq && r.version !== j.version);
    }
    return { previousRelease: prev ? ref(prev) : null, previousOfSameRelease: sameFile ? ref(sameFile) : null };
  }

  /** The newest done audit of release `version` of a project (PEP 440 equal versions match), or null. */
  auditOfRelease(name: string, version: string): AuditRef | null {
    const done = this.st.done.all(projectKey(name)) as HistRow[];
    const hit = done.find((r) => r.version === version) ?? done.find((r) => isValidVersion(r.version) && isValidVersion(version) && compareVersions(r.version, version) === 0);
    return hit ? ref(hit) : null;
  }
}
