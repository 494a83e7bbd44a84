/**
 * Resolves a diff request to two stored reports and diffs them: two audit ids, or a project and two
 * of its versions (each version's newest done audit). Used by `GET /api/v1/diff`, the diff page and
 * (through the API) `pyti diff`.
 *
 * Errors: an unknown audit, project or version is PYTI_JOB_NOT_FOUND (404); an audit without a
 * report (queued, running, error, cancelled) is PYTI_REPORT_NOT_READY (409); a stored report that is
 * not JSON is PYTI_REPORT_INVALID (500).
 */
import { PytiError } from '@pyti/vm-agent';
import type { AuditReport } from '@pyti/common';
import type { JobQueue } from '../queue/job-queue.js';
import type { ProjectHistory } from '../projects/project-history.js';
import { diffAudits } from './audit-diff.js';
import type { AuditDiff } from './audit-diff-types.js';

/** What to diff: `from` and `to` are audit ids, or versions of `project` when it is given. */
export interface DiffRequest {
  from: string;
  to: string;
  project?: string;
}

/** HTTP status of a diff error. */
export function diffErrorStatus(err: PytiError): number {
  return err.code === 'PYTI_JOB_NOT_FOUND' ? 404 : err.code === 'PYTI_REPORT_NOT_READY' ? 409 : err.code === 'PYTI_REPORT_INVALID' ? 500 : 400;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.!+_-]{0,127}$/;

/** The audit id `ref` names: an audit id, or (with `project`) the newest done audit of that version. */
export function resolveAudit(queue: JobQueue, history: ProjectHistory, ref: string, project?: string): string {
  if (project !== undefined) {
    if (ID.test(ref) && queue.summary(ref)) return ref;
    if (!VERSION.test(ref)) throw new PytiError('PYTI_USAGE', `${JSON.stringify(ref.slice(0, 64))} is not a version or an audit id`);
    const a = history.auditOfRelease(project, ref);
    if (!a) throw new PytiError('PYTI_JOB_NOT_FOUND', `no finished audit of ${project} ${ref}`);
    return a.id;
  }
  if (!ID.test(ref) || !queue.summary(ref)) throw new PytiError('PYTI_JOB_NOT_FOUND', `no audit with id ${JSON.stringify(ref.slice(0, 64))}`);
  return ref;
}

function loadReport(queue: JobQueue, id: string): AuditReport {
  const json = queue.reportJson(id);
  if (json === null) throw new PytiError('PYTI_REPORT_NOT_READY', `audit ${id} has no report (it is ${queue.summary(id)?.state ?? 'unknown'})`);
  try {
    return JSON.parse(json) as AuditReport;
  } catch (err) {
    throw new PytiError('PYTI_REPORT_INVALID', `the stored report of audit ${id} is not JSON`, { cause: err });
  }
}

/** Diffs the reports a request names (see the module comment). */
export function diffRequest(queue: JobQueue, history: ProjectHistory, req: DiffRequest): AuditDiff {
  const from = resolveAudit(queue, history, req.from, req.project);
  const to = resolveAudit(queue, history, req.to, req.project);
  return diffAudits(loadReport(queue, from), loadReport(queue, to), { from, to });
}

/** The diff of an audit against its previous release, or null when there is none or a report is missing. */
export function diffAgainst(queue: JobQueue, previousId: string, id: string): AuditDiff | null {
  try {
    return diffAudits(loadReport(queue, previousId), loadReport(queue, id), { from: previousId, to: id });
  } catch {
    return null;
  }
}
