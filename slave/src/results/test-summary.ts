/**
 * The report's `tests` and `perf` from the test task's raw data: pytest.json (what the task did),
 * test-outcomes.jsonl (per test, pytest's node ids; preferred) or junit.xml, and perf.json. All of it
 * came out of the sandbox: shapes are checked, sizes capped.
 */
import type { TaskResult } from '@pyti/vm-agent';
import { type InfraError, type PerfResult, countOutcomes, MAX_CASES, parseJunit, type TestCaseResult, type TestSummary, parseTestOutcomes } from '@pyti/common';
import type { SessionOutcome } from '../agent-session.js';

/** The test task's exit code for missing test requirements (tasks/guest/run_tests.py). */
export const TEST_EXIT_DEPS = 3;
/** The test task's exit code when the sandbox, not the package, failed the run (run_tests.py). */
export const TEST_EXIT_INFRA = 75;

const strList = (v: unknown, max = 200, len = 500): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, max).map((s) => s.slice(0, len)) : [];
const str = (v: unknown, len = 1000): string | undefined => (typeof v === 'string' ? v.slice(0, len) : undefined);

export interface TestRawInput {
  /** pytest.json, parsed (an object), if any. */
  pytestJson?: Record<string, unknown>;
  outcomes?: Buffer;
  junit?: Buffer;
  /** The test task's result; absent when the task was not planned. */
  task?: Pick<TaskResult, 'status' | 'reason' | 'exitCode'>;
}

function empty(status: TestSummary['status'], reason?: string): TestSummary {
  return { status, ...(reason ? { reason } : {}), total: 0, passed: 0, failed: 0, errors: 0, skipped: 0, xfailed: 0, xpassed: 0, flaky: [], durationSeconds: 0, cases: [] };
}

/**
 * The tests summary; undefined only when there is nothing (task not planned, no data). A parser
 * failure is pushed onto `notes` and the summary falls back to what remains.
 */
export function buildTestSummary({ pytestJson: pj, outcomes, junit, task }: TestRawInput, notes: string[]): TestSummary | undefined {
  const status = str(pj?.status, 40);
  const reason = str(pj?.reason);
  if (status === 'deps') {
    const s = empty('not run', reason ?? 'test requirements are missing');
    s.missingRequirements = strList(pj?.missing);
    return s;
  }
  if (status === 'no tests') return withRun(empty('no tests', reason ?? 'no tests'), pj);
  if (status === 'infra') return withRun(empty('not run', `the sandbox failed the run: ${str(pj?.infra) ?? 'infrastructure error'}`), pj);
  let summary: TestSummary | undefined;
  if (outcomes) {
    const parsed = parseTestOutcomes(outcomes.toString('utf8'));
    if (parsed.invalid) notes.push(`test-outcomes.jsonl: ${parsed.invalid} invalid lines`);
    const flakySet = new Set(strList(pj?.flaky, 100, 2000));
    const flaky: string[] = [];
    for (const c of parsed.cases) {
      if ((c.outcome === 'failed' || c.outcome === 'error') && flakySet.has(c.id)) {
        flaky.push(c.id);
        c.outcome = 'flaky';
      }
    }
    const counts = countOutcomes(parsed.cases);
    if (parsed.omitted && parsed.summary) {
      // Counted by the plugin over every test, flaky ones taken out of failures and errors.
      const n = (k: string): number => parsed.summary![k] ?? 0;
      const flakyErrors = parsed.cases.filter((c) => c.outcome === 'flaky' && c.when !== 'call').length;
      Object.assign(counts, {
        passed: n('passed'), failed: Math.max(0, n('failed') - (flaky.length - flakyErrors)), errors: Math.max(0, n('error') - flakyErrors),
        skipped: n('skipped'), xfailed: n('xfailed'), xpassed: n('xpassed'),
      });
      counts.total = Object.values(parsed.summary).reduce((a, b) => a + b, 0);
    }
    const sum = parsed.cases.reduce((a, c) => a + c.durationMs, 0) / 1000;
    const kept = capCases(parsed.cases);
    const omitted = parsed.omitted + parsed.cases.length - kept.length;
    summary = {
      status: 'ran', ...counts, flaky, cases: kept,
      durationSeconds: Math.round((typeof pj?.duration_seconds === 'number' ? pj.duration_seconds : sum) * 1000) / 1000,
      ...(omitted ? { casesOmitted: omitted } : {}), source: 'test-outcomes.jsonl',
    };
    if (parsed.cases.length === 0 && !parsed.summary && junit) summary = undefined;
  }
  if (!summary && junit) {
    try {
      summary = { status: 'ran', ...parseJunit(junit.toString('utf8')), flaky: [] };
    } catch (err) {
      notes.push(`junit.xml: ${(err as Error).message}`);
    }
  }
  if (summary) {
    if (reason) summary.reason = reason;
    return withRun(summary, pj);
  }
  if (!task) return pj ? withRun(empty('not run', reason ?? 'no test results'), pj) : undefined;
  const why = task.status === 'pass' ? 'the test task left no results'
    : task.status === 'skipped' ? `not run: ${task.reason ?? 'skipped'}`
      : `${task.status}${task.reason ? `: ${task.reason}` : ''}`;
  return withRun(empty('not run', reason ?? why), pj);
}

/**
 * Bytes of `cases` (as JSON) a report carries: the master takes reports of up to 12 MiB
 * (master/src/rpc/validate.ts MAX_REPORT_BYTES), and traces and findings need room too.
 */
export const CASES_BUDGET_BYTES = 5 * 1024 * 1024;

/**
 * The cases a report keeps, in run order: failures, errors, flaky and xpassed ones first, then the
 * others while the byte budget lasts (the counts still cover every test).
 */
export function capCases(cases: TestCaseResult[], budget = CASES_BUDGET_BYTES): TestCaseResult[] {
  const size = cases.map((c) => JSON.stringify(c).length + 1);
  const total = size.reduce((a, b) => a + b, 0);
  if (total <= budget) return cases;
  const keep = new Array<boolean>(cases.length).fill(false);
  let left = budget;
  const important = (c: TestCaseResult): boolean => c.outcome === 'failed' || c.outcome === 'error' || c.outcome === 'flaky' || c.outcome === 'xpassed';
  for (const pass of [true, false]) {
    cases.forEach((c, i) => {
      if (!keep[i] && important(c) === pass && size[i]! <= left) {
        keep[i] = true;
        left -= size[i]!;
      }
    });
  }
  return cases.filter((_, i) => keep[i]);
}

function withRun(s: TestSummary, pj?: Record<string, unknown>): TestSummary {
  if (!pj) return s;
  const args = pj.args === null ? null : Array.isArray(pj.args) ? strList(pj.args, 100) : undefined;
  s.run = {
    config: pj.config === null ? null : str(pj.config, 100), discovery: str(pj.discovery, 40), args,
    imageTools: strList(pj.image_tools, 10, 100), installed: strList(pj.installed, 200, 300),
  };
  const relaxed = Array.isArray(pj.relaxed)
    ? pj.relaxed.slice(0, 200).filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && typeof (x as Record<string, unknown>).requirement === 'string')
      .map((x) => ({ requirement: str(x.requirement, 300)!, ...(str(x.installed, 100) ? { installed: str(x.installed, 100) } : {}) }))
    : [];
  if (relaxed.length) s.run.relaxed = relaxed;
  if (pj.installer === 'installer' || pj.installer === 'pip') s.run.installer = pj.installer;
  return s;
}

/** perf.json's timed tests (capped, validated); undefined when absent or malformed. */
export function parsePerf(pf: Record<string, unknown> | undefined): PerfResult[] | undefined {
  if (!pf || !Array.isArray(pf.tests)) return undefined;
  const ms = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) / 1000 : undefined);
  return (pf.tests as unknown[]).slice(0, 20).filter((t): t is Record<string, unknown> => typeof t === 'object' && t !== null && typeof (t as Record<string, unknown>).test === 'string')
    .map((t) => {
      const r: PerfResult = { test: String(t.test).slice(0, 2000), runs: Math.max(0, Math.floor(Number(t.runs) || 0)) };
      for (const k of ['minMs', 'medianMs', 'maxMs'] as const) {
        const v = ms(t[k]);
        if (v !== undefined) r[k] = v;
      }
      return r;
    });
}

/**
 * The infrastructure error of a session whose test run the sandbox failed (run_tests.py exit 75 with
 * pytest.json status `infra`: pytest killed from outside its limits, out of disk, a missing device):
 * `error:sandbox`, which the audit retries on a fresh sandbox, never the package's test failure.
 */
export function testRunInfraError(session: Pick<SessionOutcome, 'run' | 'raw'>): InfraError | undefined {
  const task = session.run?.tasks.find((t) => t.id === 'test');
  const buf = session.raw.get('test')?.get('pytest.json');
  let pj: Record<string, unknown> | undefined;
  try {
    const v = buf ? (JSON.parse(buf.toString('utf8')) as unknown) : undefined;
    pj = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    pj = undefined;
  }
  const why = testInfraReason(task, pj);
  return why ? { kind: 'error:sandbox', message: `the test run failed in the sandbox, not in the package: ${why}` } : undefined;
}

/** Why the test task's run counts as an infrastructure failure (run_tests.py exit 75), if it does. */
export function testInfraReason(task: Pick<TaskResult, 'status' | 'exitCode'> | undefined, pj: Record<string, unknown> | undefined): string | undefined {
  if (task?.status !== 'fail' || task.exitCode !== TEST_EXIT_INFRA || pj?.status !== 'infra') return undefined;
  return str(pj.infra, 300) ?? 'the sandbox failed the test run';
}

export { MAX_CASES };
