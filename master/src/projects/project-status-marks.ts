/**
 * PEP 792 project status as a ground truth for verdict quality: a project the index quarantined
 * after PyTI audited it marks those audits (`quarantinedAfter`). Read from the status the master
 * recorded (subscriptions/project-status-store.ts) and the audits' finish times; nothing is written.
 *
 * Shown in `GET /api/v1/audits/:id` (`projectStatus`), on the audit page, and at
 * `GET /api/v1/project-status` (every project whose status is not active, with the audits that
 * finished before it changed and their verdicts: a quarantined project audited `clean` is a miss).
 */
import { projectKey } from '../db/migration-project-key.js';
import type { Db } from '../db/database.js';
import type { ProjectStatusRecord, ProjectStatusStore } from '../subscriptions/project-status-store.js';
import { esc } from '@pyti/common';

/** A project's status as an audit shows it. */
export interface AuditProjectStatus {
  status: string;
  reason: string | null;
  /** When the master first saw this status (ISO). */
  changedAt: string;
  /** The status is `quarantined` and it was first seen after this audit finished. */
  quarantinedAfter: boolean;
}

/** A project's status as its page shows it. */
export interface ProjectStatusSummary {
  status: string;
  reason: string | null;
  changedAt: string;
  /** Audits that finished before a quarantine was first seen (0 for other statuses). */
  auditsBeforeQuarantine: number;
}

/** An audit that finished before its project's status changed. */
export interface AuditBeforeStatus {
  id: string;
  version: string;
  filename: string | null;
  verdict: string | null;
  finishedAt: string;
}

/** A project whose status is not active, with the audits before the change. */
export interface ProjectStatusEntry extends ProjectStatusRecord {
  auditsBefore: AuditBeforeStatus[];
}

export class ProjectStatusMarks {
  private readonly before;

  constructor(db: Db, private readonly statuses: ProjectStatusStore) {
    this.before = db.prepare(`SELECT id, version, filename, verdict, finished_at FROM jobs WHERE project_key = ? AND finished_at IS NOT NULL AND finished_at <= ?
      ORDER BY finished_at DESC LIMIT 100`);
  }

  /** The mark of one audit (null when no status was recorded for its project, or it is active). */
  ofAudit(a: { project: string; finishedAt: string | null }): AuditProjectStatus | null {
    const s = this.statuses.get(projectKey(a.project));
    if (!s || s.status === 'active') return null;
    const finished = a.finishedAt === null ? NaN : Date.parse(a.finishedAt);
    return { status: s.status, reason: s.reason, changedAt: s.changedAt, quarantinedAfter: s.status === 'quarantined' && finished <= Date.parse(s.changedAt) };
  }

  /** The status of one project (normalized name), or null when none was recorded or it is active. */
  ofProject(key: string): ProjectStatusSummary | null {
    const s = this.statuses.get(key);
    if (!s || s.status === 'active') return null;
    const before = s.status === 'quarantined' ? this.before.all(key, Date.parse(s.changedAt)).length : 0;
    return { status: s.status, reason: s.reason, changedAt: s.changedAt, auditsBeforeQuarantine: before };
  }

  /** Every project whose status is not active, most recent change first, with the audits before it. */
  list(limit = 200): ProjectStatusEntry[] {
    return this.statuses.notActive(limit).map((s) => ({
      ...s,
      auditsBefore: (this.before.all(s.project, Date.parse(s.changedAt)) as { id: string; version: string; filename: string | null; verdict: string | null; finished_at: number }[])
        .map((r) => ({ id: r.id, version: r.version, filename: r.filename, verdict: r.verdict, finishedAt: new Date(r.finished_at).toISOString() })),
    }));
  }
}

/** The audit page's panel (escaped HTML; empty without a status worth showing). */
export function projectStatusPanel(mark: AuditProjectStatus | null): string {
  if (!mark) return '';
  const lead = mark.quarantinedAfter
    ? `The index <strong>quarantined</strong> this project after this audit finished (first seen ${esc(mark.changedAt)}).`
    : `The index marks this project <strong>${esc(mark.status)}</strong> (first seen ${esc(mark.changedAt)}).`;
  return `<section class="project-status" id="project-status"><h2>Project status (PEP 792)</h2><p>${lead}${mark.reason ? ` Reason: ${esc(mark.reason)}` : ''}</p></section>`;
}

/** The project page's panel (escaped HTML; empty without a status worth showing). */
export function projectStatusPagePanel(s: ProjectStatusSummary | null): string {
  if (!s) return '';
  const after = s.status === 'quarantined' && s.auditsBeforeQuarantine
    ? ` ${esc(s.auditsBeforeQuarantine)} audit${s.auditsBeforeQuarantine === 1 ? '' : 's'} finished before the quarantine: compare their verdicts.`
    : '';
  return `<section class="project-status" id="project-status"><h2>Project status (PEP 792)</h2><p>The index marks this project <strong>${esc(s.status)}</strong> (first seen ${esc(s.changedAt)}).`
    + `${s.reason ? ` Reason: ${esc(s.reason)}` : ''}${after}</p></section>`;
}
