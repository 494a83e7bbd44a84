/**
 * The tests and perf parts of the HTML and terminal renderings: status (ran, no tests, not run and
 * why, missing test requirements), counts with flaky tests apart, per-test rows, timed tests.
 * Test names and messages come from the sandbox: escaped for HTML, control characters removed for terminals.
 */
import type { AuditReport } from './audit-report.js';
import type { TestCaseResult, TestSummary } from '../results/junit.js';
import { esc } from './html-escape.js';

/** Rows of the HTML tests table. */
const HTML_CASES = 2000;

const plain = (v: string | undefined, max = 160): string => (v ?? '').replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').slice(0, max);
const caseMs = (c: TestCaseResult): number => c.durationMs ?? (c.durationSeconds ?? 0) * 1000;

/** One line: `12 passed, 1 failed, …` / `no tests (…)` / `not run: …`. */
export function testsHeadline(t: TestSummary): string {
  if (t.status === 'no tests') return `no tests${t.reason ? ` (${t.reason})` : ''}`;
  if (t.status === 'not run') {
    const missing = t.missingRequirements?.length ? ` — missing: ${t.missingRequirements.join(', ')}` : '';
    return `not run: ${t.reason ?? 'unknown reason'}${missing}`;
  }
  const parts = [`${t.passed} passed`, `${t.failed} failed`, `${t.errors} errors`, `${t.skipped} skipped`];
  if (t.xfailed) parts.push(`${t.xfailed} xfailed`);
  if (t.xpassed) parts.push(`${t.xpassed} xpassed`);
  if (t.flaky?.length) parts.push(`${t.flaky.length} flaky (failed, then passed alone; not failures)`);
  return parts.join(', ');
}

/** Terminal lines for tests and perf. */
export function testsTerminalLines(r: AuditReport, c: (key: string, s: string) => string): string[] {
  const out: string[] = [];
  const t = r.tests;
  if (t) {
    out.push(`  tests: ${plain(testsHeadline(t), 400)}`);
    if (t.run?.relaxed?.length) out.push(`    relaxed test requirements: ${plain(t.run.relaxed.map((x) => `${x.requirement} → ${x.installed ?? 'any version'}`).join(', '), 400)}`);
    for (const f of t.cases.filter((x) => x.outcome === 'failed' || x.outcome === 'error').slice(0, 5)) {
      out.push(`    ${c('failed', 'FAIL')} ${plain(f.id, 200)}${f.needsNetwork ? ' (needs the network)' : ''}: ${plain((f.message ?? '').split('\n')[0], 120)}`);
    }
    for (const id of (t.flaky ?? []).slice(0, 5)) out.push(`    ${c('medium', 'FLAKY')} ${plain(id, 200)}`);
  }
  for (const p of r.perf ?? []) {
    out.push(`  perf: ${plain(p.test, 120)}  ${p.runs} runs  ${p.medianMs !== undefined ? `min ${p.minMs} ms, median ${p.medianMs} ms, max ${p.maxMs} ms` : 'no passed run'}`);
  }
  return out;
}

/** The HTML sections for tests and perf (empty string when neither is in the report). */
export function testsHtmlSections(r: AuditReport): string {
  const parts: string[] = [];
  const t = r.tests;
  if (t) {
    const flaky = new Set(t.flaky ?? []);
    const run = t.run ? `<p class="muted">pytest ${t.run.args === null ? '(the configuration\'s testpaths)' : esc((t.run.args ?? []).join(' ') || '(the project root)')} · config: ${esc(t.run.config ?? 'none')}${t.run.imageTools?.length ? ` · from the image: ${esc(t.run.imageTools.join(', '))}` : ''}</p>` : '';
    const missing = t.missingRequirements?.length ? `<p>Missing test requirements: ${t.missingRequirements.map((m) => `<code>${esc(m)}</code>`).join(', ')}</p>` : '';
    const relaxed = t.run?.relaxed?.length ? `<p>Test requirements relaxed (no matching version to install; installed by name): ${t.run.relaxed.map((x) => `<code>${esc(x.requirement)}</code> → ${esc(x.installed ?? 'any version')}`).join(', ')}</p>` : '';
    const omitted = t.cases.length > HTML_CASES || t.casesOmitted ? `<p class="muted">${esc(Math.min(t.cases.length, HTML_CASES))} of ${esc(t.total)} tests shown.</p>` : '';
    const flakyList = flaky.size ? `<p>Flaky (failed in the run, passed when run again alone; not counted as failures): ${[...flaky].map((f) => `<code>${esc(f)}</code>`).join(', ')}</p>` : '';
    const row = (c: TestCaseResult): string => {
      const cls = c.outcome === 'passed' || c.outcome === 'xfailed' ? 'pass' : c.outcome === 'skipped' || c.outcome === 'flaky' ? 'skipped' : 'fail';
      // Decoded once by the parsers, escaped once here; a multi-line message is shown whole, as preformatted text.
      const msg = c.message ?? '';
      const body = [msg.includes('\n') || !c.traceback ? msg : '', c.traceback ?? ''].filter(Boolean).join('\n\n');
      const detail = c.traceback || c.message
        ? `<details><summary>${esc(msg.split('\n')[0]!.slice(0, 200))}${c.needsNetwork ? ' <b>(needs the network)</b>' : ''}</summary><pre>${esc(body)}</pre></details>` : '';
      return `<tr><td><code>${esc(c.id)}</code>${detail}</td><td class="s-${cls}">${esc(c.outcome)}</td><td class="num">${esc((caseMs(c) / 1000).toFixed(3))} s</td></tr>`;
    };
    const head = '<tr><th>test</th><th>outcome</th><th class="num">time</th></tr>';
    const shown = t.cases.slice(0, HTML_CASES);
    // What needs reading (failures, errors, flaky, xpassed) in the open; passed, skipped and xfailed tests folded.
    const quiet = (c: TestCaseResult): boolean => c.outcome === 'passed' || c.outcome === 'skipped' || c.outcome === 'xfailed';
    const loud = shown.filter((c) => !quiet(c));
    const rest = shown.filter(quiet);
    const table = (cs: TestCaseResult[]): string => `<table>${head}${cs.map(row).join('')}</table>`;
    const cases = `${loud.length ? table(loud) : ''}${rest.length ? `<details${loud.length || rest.length > 20 ? '' : ' open'}><summary>${esc(rest.length)} passed, skipped or xfailed tests</summary>${table(rest)}</details>` : ''}`;
    parts.push(`<section><h2>Tests: ${esc(testsHeadline(t))}</h2>${run}${missing}${relaxed}${flakyList}${omitted}${cases}</section>`);
  }
  if (r.perf?.length) {
    parts.push(`<section><h2>Performance: the slowest tests, timed again</h2><table><tr><th>test</th><th class="num">runs</th><th class="num">min</th><th class="num">median</th><th class="num">max</th></tr>${r.perf.map((p) =>
      `<tr><td><code>${esc(p.test)}</code></td><td class="num">${esc(p.runs)}</td><td class="num">${p.minMs !== undefined ? `${esc(p.minMs)} ms` : ''}</td><td class="num">${p.medianMs !== undefined ? `${esc(p.medianMs)} ms` : ''}</td><td class="num">${p.maxMs !== undefined ? `${esc(p.maxMs)} ms` : ''}</td></tr>`).join('')}</table></section>`);
  }
  return parts.join('\n');
}
