/**
 * The master decides the result, not the slave: it recomputes the result category from the
 * report's own task results and test counts (the first phase that did not pass decides it, as the
 * slave's `classify` does), and refuses reports that contradict themselves beyond repair.
 *
 * - Repaired: a result the tasks contradict (e.g. `pass` while the test task failed, or the test
 *   counts show failures) is replaced by the one the tasks give; the slave's claim and the reason are kept in
 *   the stored report's `masterJudgement`. An infrastructure result (`error:…`) is kept.
 * - Rejected (ReportRejectedError, `PYTI_REPORT_REJECTED`, with evidence): a required section is
 *   missing or of the wrong shape (distribution, tasks, traces, findings, timings), findings or
 *   tasks are malformed (no rule, severity, title or evidence list; no valid status) or listed twice, test counts do not add up, or the report cannot be rendered. The
 *   job's attempt is ended with the reason and the job is retried on another slave (job-queue.ts).
 */
import { PytiError } from '@pyti/vm-agent';

/** A slave's report the master will not store. */
export class ReportRejectedError extends PytiError {
  constructor(readonly reason: string, readonly evidence: string[], readonly leaseId = '') {
    super('PYTI_REPORT_REJECTED', `the report is rejected: ${reason}${evidence.length ? ` (${evidence.slice(0, 5).join('; ')})` : ''}`);
  }

  /** The same rejection, for the lease it came with. */
  forLease(leaseId: string): ReportRejectedError {
    return new ReportRejectedError(this.reason, this.evidence, leaseId);
  }
}

type Obj = Record<string, unknown>;

const TASK_STATUSES: ReadonlySet<string> = new Set(['pass', 'fail', 'skipped', 'timeout', 'oom', 'limit', 'error']);
/** The phases in the order the slave's classify reads them. */
/** The phase tasks in order, each with the result family its failure gives (a git job's `sdist` build is a build). */
const PHASE_TASKS = [['inspect', 'inspect'], ['sdist', 'build'], ['build', 'build'], ['install', 'install'], ['import', 'import'], ['test', 'test']] as const;
const COUNT_KEYS = ['total', 'passed', 'failed', 'errors', 'skipped', 'xfailed', 'xpassed'] as const;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const short = (v: unknown): string => JSON.stringify(v)?.slice(0, 120) ?? String(v);

function requireSections(r: Obj): void {
  const d = r.distribution;
  if (!isObj(d)) throw new ReportRejectedError('missing required section distribution', [`distribution = ${short(d)}`]);
  for (const k of ['name', 'version', 'filename']) {
    if (typeof d[k] !== 'string' || (d[k] as string).length === 0) throw new ReportRejectedError(`distribution.${k} is missing`, [`distribution.${k} = ${short(d[k])}`]);
  }
  if (!Array.isArray(r.tasks)) throw new ReportRejectedError('missing required section tasks', [`tasks = ${short(r.tasks)}`]);
  if (!isObj(r.traces)) throw new ReportRejectedError('missing required section traces', [`traces = ${short(r.traces)}`]);
  if (!Array.isArray(r.findings)) throw new ReportRejectedError('missing required section findings', [`findings = ${short(r.findings)}`]);
  if (!isObj(r.timings)) throw new ReportRejectedError('missing required section timings', [`timings = ${short(r.timings)}`]);
}

function checkTasks(tasks: unknown[]): Map<string, Obj> {
  const byId = new Map<string, Obj>();
  tasks.forEach((t, i) => {
    if (!isObj(t) || typeof t.id !== 'string' || t.id.length === 0 || t.id.length > 100) throw new ReportRejectedError(`tasks.${i} is not a task`, [`tasks.${i} = ${short(t)}`]);
    if (typeof t.status !== 'string' || !TASK_STATUSES.has(t.status)) {
      throw new ReportRejectedError(`task ${t.id} has no valid status`, [`tasks.${i}.status = ${short(t.status)}`, `statuses: ${[...TASK_STATUSES].join(', ')}`]);
    }
    if (byId.has(t.id)) throw new ReportRejectedError(`task ${t.id} is listed twice`, [`tasks.${i}.id = ${short(t.id)}`]);
    byId.set(t.id, t);
  });
  return byId;
}

const SEVERITIES: ReadonlySet<string> = new Set(['info', 'low', 'medium', 'high', 'critical']);

/** Every finding has a rule, a severity, a title and its evidence (a list): else the judge and the page cannot read it. */
function checkFindings(findings: unknown[]): void {
  findings.forEach((f, i) => {
    const bad = !isObj(f) ? 'is not an object'
      : typeof f.rule !== 'string' || f.rule.length === 0 ? 'has no rule'
        : typeof f.severity !== 'string' || !SEVERITIES.has(f.severity) ? 'has no valid severity'
          : typeof f.title !== 'string' ? 'has no title'
            : !Array.isArray(f.evidence) ? 'has no evidence list' : null;
    if (bad) throw new ReportRejectedError(`finding ${i} ${bad}`, [`findings.${i} = ${short(f)}`]);
  });
}

/** The test counts, checked: non-negative integers whose outcomes add up to at most the total. */
function checkTests(tests: unknown): { failed: number; errors: number; status: string | null } | null {
  if (tests === undefined) return null;
  if (!isObj(tests)) throw new ReportRejectedError('tests is not an object', [`tests = ${short(tests)}`]);
  const n: Record<string, number> = {};
  for (const k of COUNT_KEYS) {
    const v = tests[k] ?? 0;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ReportRejectedError(`tests.${k} is not a count`, [`tests.${k} = ${short(v)}`]);
    n[k] = v;
  }
  const outcomes = n.passed! + n.failed! + n.errors! + n.skipped! + n.xfailed! + n.xpassed!;
  if (outcomes > n.total!) {
    throw new ReportRejectedError('the test counts do not add up', [`passed ${n.passed} + failed ${n.failed} + errors ${n.errors} + skipped ${n.skipped} + xfailed ${n.xfailed} + xpassed ${n.xpassed} = ${outcomes} > total ${n.total}`]);
  }
  const status = typeof tests.status === 'string' ? tests.status : null;
  if (status === 'no tests' && n.total! > 0) throw new ReportRejectedError('tests say "no tests" but count some', [`tests.status = "no tests"`, `tests.total = ${n.total}`]);
  return { failed: n.failed!, errors: n.errors!, status };
}

/** The result the tasks give, with why; null when the report has no task results to judge by. */
function resultFromTasks(r: Obj, tasks: Map<string, Obj>, tests: ReturnType<typeof checkTests>): { result: string; why: string } | null {
  const infra = isObj(r.infraError) && typeof r.infraError.kind === 'string' && r.infraError.kind.startsWith('error:') ? r.infraError.kind : null;
  if (infra) return { result: infra, why: `infraError.kind is ${infra}` };
  if (!PHASE_TASKS.some(([id]) => tasks.has(id))) return null;
  for (const [id, family] of PHASE_TASKS) {
    const t = tasks.get(id);
    if (!t || t.status === 'pass') continue;
    const suffix = t.status === 'timeout' ? ':timeout' : t.status === 'oom' ? ':oom' : '';
    return { result: `${family}-fail${suffix}`, why: `task ${id} is ${t.status as string}` };
  }
  if (tests && tests.failed + tests.errors > 0) return { result: 'test-fail', why: `${tests.failed} test(s) failed and ${tests.errors} errored` };
  if (tests?.status === 'no tests') return { result: 'no-tests', why: 'the tests say there are none' };
  return { result: 'pass', why: 'every task passed' };
}

/** The category a result falls in: `pass` and `no-tests` are alike (nothing failed); `error:…` is infrastructure. */
function category(result: string): string {
  if (result.startsWith('error:')) return 'error';
  const c = result.split(':')[0]!;
  return c === 'no-tests' ? 'pass' : c;
}

/** What the master stores as the result, and why it differs from the slave's (null when it does not). */
export interface ResultDecision {
  result: string;
  repaired: { claimed: string; reason: string } | null;
}

/**
 * Checks the report's sections and self-consistency, and decides its result from its tasks.
 * Throws ReportRejectedError. Records a repair in `report.masterJudgement`.
 */
export function decideResult(report: Obj, claimed: string): ResultDecision {
  requireSections(report);
  checkFindings(report.findings as unknown[]);
  const tasks = checkTasks(report.tasks as unknown[]);
  const tests = checkTests(report.tests);
  const derived = resultFromTasks(report, tasks, tests);
  delete report.masterJudgement;
  // Repaired only where the tasks show a failure the claim hides or misplaces: a failure the slave
  // names from more than its tasks (missing requirements, an unusable toolchain) is kept as claimed.
  if (!derived || category(claimed) === 'error' || category(derived.result) === 'pass' || category(claimed) === category(derived.result)) {
    return { result: claimed, repaired: null };
  }
  const repaired = { claimed, reason: `the slave said ${claimed}, but ${derived.why}` };
  report.result = derived.result;
  report.masterJudgement = { resultClaimed: claimed, reason: repaired.reason };
  return { result: derived.result, repaired };
}
