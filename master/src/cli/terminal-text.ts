/**
 * Text from the master shown in a terminal. Everything in an audit comes, in the end, from package
 * code or a slave: control characters (escape sequences that could rewrite the screen or the
 * terminal's title) are replaced before printing.
 */
import type { AuditState, AuditSummary } from '../user-api.js';
import { auditCells, auditTone } from '../web/audit-row-model.js';

/** Replaces control characters (keeping newlines and tabs when `multiline`). */
export function clean(s: unknown, multiline = false): string {
  const text = String(s ?? '');
  return multiline ? text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '\uFFFD') : text.replace(/[\x00-\x1f\x7f-\x9f]/g, '\uFFFD');
}

/** Cleans every string inside a JSON value (for rendering a report fetched from the master). */
export function cleanDeep<T>(v: T): T {
  if (typeof v === 'string') return clean(v, true) as T;
  if (Array.isArray(v)) return v.map(cleanDeep) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cleanDeep(x)])) as T;
  return v;
}

const TONE_COLOUR = { red: '31', orange: '33', green: '32', neutral: '' } as const;

/** Colours `s` by the audit's tone when `color`. */
export function toned(a: AuditSummary, s: string, color: boolean): string {
  const c = TONE_COLOUR[auditTone(a)];
  return color && c ? `\x1b[${c}m${s}\x1b[0m` : s;
}

/** One line of progress: `running on slave-a: install (2 tasks done)`. */
export function progressLine(a: AuditSummary): string {
  const p = a.progress;
  const where = a.state === 'running' && a.slave ? ` on ${a.slave}` : '';
  const what = a.state === 'running' ? (p?.task ?? p?.phase ?? 'starting') : a.state === 'queued' ? auditCells(a)[11]!.t : a.state;
  return clean(`${a.state}${where}: ${what}${a.state === 'running' && p?.tasksDone ? ` (${p.tasksDone} tasks done)` : ''}`);
}

/**
 * `pyti audit`'s exit code for a finished audit: 0 clean, 1 failed, 2 not done or error,
 * 3 suspicious (or an older report's flagged), 4 malicious.
 */
export function exitCodeOf(a: { state: AuditState; verdict: AuditSummary['verdict'] }): number {
  if (a.state !== 'done') return 2;
  switch (a.verdict) {
    case 'clean': return 0;
    case 'failed': return 1;
    case 'suspicious': case 'flagged': return 3;
    case 'malicious': return 4;
    default: return 2;
  }
}
