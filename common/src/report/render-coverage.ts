/**
 * What the report says about coverage: a percentage when it was measured, else "not measured" with
 * the reason (no tests, the tests did not run or collected nothing, none of the package's code ran)
 * — a coverage failure only when the tests ran and coverage itself could not read its data.
 */
import type { AuditReport } from './audit-report.js';
import { esc } from './html-escape.js';

/** Coverage as measured, or why not (`failure`: coverage itself failed, not the lack of tests). */
export type CoverageState =
  | { measured: true; percent: number; statements: number }
  | { measured: false; reason: string; failure: boolean };

const noDataReason = (note: string): string => note.replace(/^no data:\s*/i, '');

/** The coverage state of a report (undefined when coverage was not planned and no tests either). */
export function coverageState(r: Pick<AuditReport, 'coverage' | 'tests' | 'tasks'>): CoverageState | undefined {
  const c = r.coverage;
  if (c && c.percent !== null && c.percent !== undefined) return { measured: true, percent: c.percent, statements: c.statements };
  const task = (r.tasks ?? []).find((t) => t.id === 'coverage');
  const t = r.tests;
  if (!c && !task) return undefined;
  if (t?.status === 'no tests') return { measured: false, reason: 'no tests', failure: false };
  if (t?.status === 'not run') return { measured: false, reason: `the tests did not run${t.reason ? `: ${t.reason}` : ''}`, failure: false };
  if (t && t.total === 0) return { measured: false, reason: 'the tests collected nothing', failure: false };
  if (t && t.passed === 0 && t.failed === 0 && t.errors > 0) return { measured: false, reason: 'the tests failed to collect', failure: false };
  if (c?.note) return { measured: false, reason: noDataReason(c.note), failure: false };
  if (task && task.status === 'skipped') return { measured: false, reason: task.reason ?? 'the test run left no coverage data', failure: false };
  if (task && task.status !== 'pass') return { measured: false, reason: `coverage could not read its data${task.reason ? `: ${task.reason}` : ''}`, failure: true };
  return { measured: false, reason: 'no coverage data', failure: false };
}

/** One line: `87.5% of 120 statements` / `not measured (no tests)` / `failed: …`. */
export function coverageHeadline(s: CoverageState): string {
  return s.measured ? `${s.percent}% of ${s.statements} statements` : s.failure ? `failed (${s.reason})` : `not measured (${s.reason})`;
}

/** The coverage task's status cell in the tasks table: `not measured` unless coverage itself failed. */
export function coverageTaskStatus(r: Pick<AuditReport, 'coverage' | 'tests' | 'tasks'>, status: string): { text: string; cls: string } {
  const s = coverageState(r);
  if (status !== 'pass' && s && !s.measured && !s.failure) return { text: 'not measured', cls: 'skipped' };
  return { text: status, cls: status };
}

/** The HTML section (empty when there is nothing to say). */
export function coverageSection(r: AuditReport): string {
  const s = coverageState(r);
  if (!s) return '';
  const files = r.coverage?.files ?? [];
  return `<section><h2>Coverage: ${esc(coverageHeadline(s))}</h2>${files.length ? `<table>${files.map((f) =>
    `<tr><td><code>${esc(f.path)}</code></td><td class="num">${esc(f.percent)}%</td><td class="num">${esc(f.missing)} missing</td></tr>`).join('')}</table>` : ''}</section>`;
}
