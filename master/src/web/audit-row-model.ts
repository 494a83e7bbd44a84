/**
 * What a row of the audit list shows, written once as plain JavaScript so that the server (rendering
 * the page) and the browser (updating rows in place from `GET /api/v1/audits`) compute the same
 * cells. The source is a constant (no user input ever reaches it); the server gets callable functions
 * from it with `new Function`, the page embeds it in its live-update script.
 *
 * Cells are data, not HTML: the server escapes them, the browser assigns them with `textContent`.
 */
import type { AuditSummary } from '../user-api.js';

/**
 * One table cell: its text, and optionally a CSS class, a link (always a same-site path) and a tooltip.
 * The project cell links to the project's page, the version cell to the audit's page.
 */
export interface RowCell {
  t: string;
  c?: string;
  h?: string;
  title?: string;
}

/**
 * `red` for malicious, failed or error; `orange` for suspicious (and older reports' flagged); `green`
 * for clean; `neutral` while queued or running, or cancelled.
 */
export type RowTone = 'red' | 'orange' | 'green' | 'neutral';

/** The column headings, in the order of `auditCells`. */
export const AUDIT_COLUMNS = ['project', 'version', 'source', 'backend', 'state', 'verdict', 'result', 'findings', 'slave', 'submitted', 'time', 'progress'] as const;

/** JavaScript source defining `pytiTone(a)`, `pytiCells(a, nowMs)`, `pytiTime(iso)` and `pytiDuration(ms)`. */
export const ROW_MODEL_JS = String.raw`
function pytiTone(a) {
  if (a.state === 'done' && (a.verdict === 'suspicious' || a.verdict === 'flagged')) return 'orange';
  if (a.state === 'error' || a.verdict === 'malicious' || a.verdict === 'failed' || a.verdict === 'error') return 'red';
  if (a.state === 'done' && a.verdict === 'clean') return 'green';
  return 'neutral';
}
function pytiTime(iso) {
  if (!iso) return '';
  var m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(String(iso));
  return m ? m[1] + ' ' + m[2] : String(iso);
}
function pytiDuration(ms) {
  if (!(ms >= 0)) return '';
  var s = ms / 1000;
  if (s < 60) return s.toFixed(1) + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + Math.floor(s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}
function pytiProgress(a) {
  if (a.state === 'error' && a.error) return a.error.code;
  if (a.state === 'queued') return a.attempts > 0 ? 'queued again after attempt ' + a.attempts : 'waiting for a slave';
  if (a.state !== 'running') return '';
  var p = a.progress;
  if (!p) return 'starting';
  var parts = [];
  if (p.phase) parts.push(p.phase);
  if (p.task) parts.push(p.task);
  if (p.tasksDone) parts.push(p.tasksDone + ' tasks done');
  return parts.join(' · ') || 'starting';
}
function pytiCells(a, nowMs) {
  var start = a.startedAt ? Date.parse(a.startedAt) : NaN;
  var end = a.finishedAt ? Date.parse(a.finishedAt) : (a.state === 'running' ? nowMs : NaN);
  var state = a.state + (a.attempts > 1 || (a.state === 'error' && a.attempts > 0) ? ' (attempt ' + a.attempts + '/' + a.maxAttempts + ')' : '');
  var src = a.source === 'git' && a.git ? 'git: ' + a.git.branch + ' @ ' + String(a.git.commit).slice(0, 12)
    : a.source === 'upload' ? 'upload' + (a.filename ? ': ' + a.filename : '') : 'index' + (a.filename ? ': ' + a.filename : '');
  return [
    { t: a.project, h: '/projects/' + encodeURIComponent(String(a.project).toLowerCase().replace(/[-_.]+/g, '-')), c: 'project', title: 'every audit of ' + a.project },
    { t: a.version, h: '/audits/' + encodeURIComponent(a.id), c: 'version' },
    { t: src },
    { t: a.backend },
    { t: state, c: 'state-' + a.state },
    { t: (a.verdict || '') + ((a.verdict === 'malicious' || a.verdict === 'suspicious') && a.score ? ' · score ' + a.score : ''), c: a.verdict ? 'verdict-' + a.verdict : '' },
    { t: a.result || '' },
    { t: a.findings === null || a.findings === undefined ? '' : String(a.findings), c: 'num' },
    { t: a.slave || '' },
    { t: pytiTime(a.submittedAt) },
    { t: pytiDuration(end - start), c: 'num' },
    { t: pytiProgress(a), c: 'progress', title: a.error ? a.error.message : (a.progress && a.progress.log) || '' }
  ];
}
`;

interface RowModel {
  tone(a: AuditSummary): RowTone;
  cells(a: AuditSummary, nowMs: number): RowCell[];
}

// eslint-disable-next-line @typescript-eslint/no-implied-eval -- a constant of this module, see above.
const model = new Function(`${ROW_MODEL_JS}\nreturn { tone: pytiTone, cells: pytiCells };`)() as RowModel;

/** The colour of an audit's row (see RowTone). */
export function auditTone(a: AuditSummary): RowTone {
  return model.tone(a);
}

/** The cells of an audit's row, in the order of AUDIT_COLUMNS (`nowMs` for the running time). */
export function auditCells(a: AuditSummary, nowMs = Date.now()): RowCell[] {
  return model.cells(a, nowMs);
}
