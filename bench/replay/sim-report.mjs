// The report a simulated slave sends: a minimal AuditReport (common/src/report/audit-report.ts) of the
// job's real file (name, version, filename, sha256 and size as the index publishes them), whose tasks
// and test counts give the measured audit's result, judged with the report schema's own
// applyJudgement (verdict, score, reasons). The master validates it like any slave's report
// (master/src/rpc/report-consistency.ts, rendering included); nothing in the master is bypassed.
import { REPORT_SCHEMA_VERSION, applyJudgement } from '../../common/dist/index.js';

const TITLES = { inspect: 'Inspect the distribution', build: 'Build a wheel', install: 'Install', import: 'Import the top-level modules', test: 'Run the tests' };

function task(id, status, durationMs, reason) {
  return { id, title: TITLES[id], failurePolicy: id === 'test' ? 'continue' : 'stop', status, durationMs, rawFiles: [], ...(reason ? { reason } : {}) };
}

/** The tests section that gives `result` (pass, no-tests, test-fail, test-fail:deps). */
function testsFor(result) {
  const base = { passed: 0, failed: 0, errors: 0, skipped: 0, durationSeconds: 1, cases: [] };
  if (result === 'no-tests') return { ...base, status: 'no tests', reason: 'the distribution ships no tests', total: 0 };
  if (result === 'test-fail') return { ...base, status: 'ran', total: 12, passed: 11, failed: 1 };
  if (result === 'test-fail:deps') return { ...base, status: 'not run', reason: 'test requirements cannot be installed', missingRequirements: ['hypothesis'], total: 0 };
  return { ...base, status: 'ran', total: 12, passed: 12 };
}

/**
 * A report for `file` ({filename, name, version, kind, sha256, sizeBytes}) audited in `ms` with `result`.
 * Wheels have no build task.
 */
export function simulatedReport(file, { ms, result }, startedAt) {
  const share = (f) => Math.max(1, Math.round(ms * f));
  const testStatus = result.startsWith('test-fail') ? 'fail' : 'pass';
  const tasks = [
    task('inspect', 'pass', share(0.05)),
    ...(file.kind === 'sdist' ? [task('build', 'pass', share(0.25))] : []),
    task('install', 'pass', share(0.25)),
    task('import', 'pass', share(0.1)),
    task('test', testStatus, share(0.35), result === 'test-fail:deps' ? 'missing test requirements: hypothesis' : undefined),
  ];
  return applyJudgement({
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'pyti', version: 'replay' },
    distribution: { filename: file.filename, name: file.name, version: file.version, kind: file.kind, sha256: file.sha256, sizeBytes: file.sizeBytes, requiresDist: [] },
    backend: { name: 'bwrap', isolation: 'namespaces', network: 'none' },
    result,
    tasks,
    tests: testsFor(result),
    traces: {},
    findings: [],
    timings: { startedAt: new Date(startedAt).toISOString(), totalMs: ms },
    rawFiles: [],
  });
}
