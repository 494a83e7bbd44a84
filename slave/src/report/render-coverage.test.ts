/**
 * Coverage as the report says it: measured, "not measured (reason)" when there was nothing to
 * measure (no tests, tests not run or collecting nothing, none of the package's code ran), and a
 * failure only when coverage itself failed; a suite that collected nothing is `no-tests`, never `pass`.
 */
import { coverageHeadline, coverageState, renderHtml, type AuditReport, type ReportTask, type TestSummary } from '@pyti/common';
import { classify } from './build-report.js';

const task = (id: string, status: ReportTask['status'], reason?: string): ReportTask =>
  ({ id, status, ...(reason ? { reason } : {}), rawFiles: [], title: id, failurePolicy: 'warn' }) as ReportTask;
const counts = { total: 0, passed: 0, failed: 0, errors: 0, skipped: 0, durationSeconds: 0, cases: [] };
const ran = (over: Partial<TestSummary>): TestSummary => ({ status: 'ran', ...counts, ...over });

function report(tests: TestSummary | undefined, coverage: AuditReport['coverage'], covTask: ReportTask, result = 'pass'): AuditReport {
  return {
    schemaVersion: 1, tool: { name: 'pyti', version: '0.1.0' },
    distribution: { filename: 'p-1.0.tar.gz', name: 'p', version: '1.0', kind: 'sdist', sha256: 'a'.repeat(64), sizeBytes: 1, requiresDist: [] },
    backend: { name: 'bwrap', isolation: 'namespaces', network: 'none' }, result, verdict: 'clean', score: 0, scoreReasons: [],
    tasks: [task('test', tests?.status === 'not run' ? 'fail' : 'pass'), covTask], tests, coverage, traces: {}, findings: [],
    timings: { startedAt: '2026-12-07T00:00:00.000Z', totalMs: 1 }, rawFiles: [],
  };
}
const noData = (note: string): AuditReport['coverage'] => ({ percent: null, coveredLines: 0, statements: 0, files: [], note });

describe('coverage in the report', () => {
  it('a package without tests: not measured (no tests), its result no-tests', () => {
    const r = report({ status: 'no tests', reason: 'pytest collected no tests', ...counts }, noData('no data: no tests ran'), task('coverage', 'pass'), 'no-tests');
    expect(coverageHeadline(coverageState(r)!)).toBe('not measured (no tests)');
    const html = renderHtml(r);
    expect(html).toContain('<h2>Coverage: not measured (no tests)</h2>');
    expect(html).toContain('<h2>Tests: no tests (pytest collected no tests)</h2>');
    expect(html).toContain('result <b>no-tests</b>');
  });

  it('tests that did not run: the coverage task shows "not measured", not fail', () => {
    const r = report({ status: 'not run', reason: 'test requirements could not be resolved', missingRequirements: ['pretend'], ...counts }, undefined,
      task('coverage', 'skipped', 'needs coverage-data, which test did not produce'), 'test-fail:deps');
    expect(coverageHeadline(coverageState(r)!)).toBe('not measured (the tests did not run: test requirements could not be resolved)');
    const html = renderHtml(r);
    expect(html).toMatch(/<td><b>coverage<\/b><br><span class="muted">coverage<\/span><\/td><td class="s-skipped">not measured<\/td>/);
    const failed = renderHtml(report(r.tests, undefined, task('coverage', 'fail', 'exit code 1'), 'test-fail:deps'));
    expect(failed).toMatch(/<td><b>coverage<\/b><br><span class="muted">coverage<\/span><\/td><td class="s-skipped">not measured<\/td>/);
    expect(failed).not.toMatch(/<td><b>coverage<\/b>.*?<td class="s-fail">/);
  });

  it('tests that failed to collect, or ran none of the package\'s code: not measured, with the reason', () => {
    expect(coverageHeadline(coverageState(report(ran({ total: 1, errors: 1 }), undefined, task('coverage', 'fail')))!)).toBe('not measured (the tests failed to collect)');
    expect(coverageHeadline(coverageState(report(ran({ total: 2, passed: 2 }), noData("no data: none of the package's code ran under the tests"), task('coverage', 'pass')))!))
      .toBe("not measured (none of the package's code ran under the tests)");
  });

  it('measured, and a real coverage failure after passing tests', () => {
    const cov = { percent: 87.5, coveredLines: 7, statements: 8, files: [{ path: 'p/__init__.py', percent: 87.5, statements: 8, missing: 1 }] };
    expect(renderHtml(report(ran({ total: 2, passed: 2 }), cov, task('coverage', 'pass')))).toContain('<h2>Coverage: 87.5% of 8 statements</h2>');
    const broken = report(ran({ total: 2, passed: 2 }), undefined, task('coverage', 'fail', 'exit code 1'));
    expect(coverageHeadline(coverageState(broken)!)).toBe('failed (coverage could not read its data: exit code 1)');
    expect(renderHtml(broken)).toMatch(/<td><b>coverage<\/b><br><span class="muted">coverage<\/span><\/td><td class="s-fail">fail<\/td>/);
  });

  it('classify: a suite that ran and collected nothing is no-tests, never pass', () => {
    const tasks = [task('test', 'pass')];
    expect(classify(tasks, {}, undefined, undefined, { status: 'ran', total: 0, failed: 0, errors: 0 })).toBe('no-tests');
    expect(classify(tasks, {}, undefined, undefined, { status: 'no tests', total: 0, failed: 0, errors: 0 })).toBe('no-tests');
    expect(classify(tasks, {}, undefined, undefined, { status: 'ran', total: 3, failed: 0, errors: 0 })).toBe('pass');
  });
});
