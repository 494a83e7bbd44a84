import type { AuditReport } from './audit-report.js';
import type { TestSummary } from '../results/junit.js';
import { testsHeadline, testsHtmlSections, testsTerminalLines } from './render-tests.js';

const base: TestSummary = { status: 'ran', total: 4, passed: 2, failed: 1, errors: 0, skipped: 0, xfailed: 1, xpassed: 0, flaky: [], durationSeconds: 1, cases: [] };

describe('rendering tests and perf', () => {
  it('headlines: counts with flaky apart, no tests, not run with the missing requirements', () => {
    expect(testsHeadline({ ...base, flaky: ['t.py::f'] })).toBe('2 passed, 1 failed, 0 errors, 0 skipped, 1 xfailed, 1 flaky (failed, then passed alone; not failures)');
    expect(testsHeadline({ ...base, status: 'no tests', reason: 'pytest collected no tests' })).toBe('no tests (pytest collected no tests)');
    expect(testsHeadline({ ...base, status: 'not run', reason: 'test requirements could not be resolved', missingRequirements: ['pretend'] }))
      .toBe('not run: test requirements could not be resolved — missing: pretend');
    // Reports of older slaves: no status, durations in seconds.
    const old = { total: 1, passed: 1, failed: 0, errors: 0, skipped: 0, durationSeconds: 1, cases: [{ id: 'm::t', name: 't', outcome: 'passed', durationSeconds: 0.5 }] } as unknown as TestSummary;
    expect(testsHeadline(old)).toBe('1 passed, 0 failed, 0 errors, 0 skipped');
    expect(testsHtmlSections({ tests: old } as AuditReport)).toContain('0.500 s');
  });

  it('HTML escapes node ids and messages; the terminal drops control characters', () => {
    const tests: TestSummary = { ...base, flaky: ['t.py::f[<b>]'], cases: [
      { id: 't.py::test_x[<script>]', name: 'test_x[<script>]', outcome: 'failed', durationMs: 12, message: 'a < b\x1b[31m', traceback: 'E  a < b' },
      { id: 't.py::f[<b>]', name: 'f[<b>]', outcome: 'flaky', durationMs: 1 },
    ] };
    const r = { tests, perf: [{ test: 't.py::slow', runs: 5, minMs: 1, medianMs: 2, maxMs: 3 }] } as unknown as AuditReport;
    const html = testsHtmlSections(r);
    expect(html).toContain('t.py::test_x[&lt;script&gt;]');
    expect(html).not.toContain('<script>');
    expect(html).toContain('Flaky');
    expect(html).toContain('<td class="num">2 ms</td>');
    const lines = testsTerminalLines(r, (_k, s) => s);
    expect(lines.join('\n')).not.toContain('\x1b');
    expect(lines).toEqual(expect.arrayContaining([
      '    FAIL t.py::test_x[<script>]: a < b [31m', '    FLAKY t.py::f[<b>]', '  perf: t.py::slow  5 runs  min 1 ms, median 2 ms, max 3 ms',
    ]));
  });
});
