/**
 * Turns one job's raw data into the audit report. Every raw file came out of the sandbox and is
 * parsed defensively: a parser that fails leaves a note in the report instead of aborting it.
 */
import type { Plan } from '@pyti/vm-agent';
import type { Backend } from '../backends/backend.js';
import type { SessionOutcome } from '../agent-session.js';
import { type ValidatedDist, type Finding, parsePylint, parsePycodestyle, parseCoverage, REPORT_SCHEMA_VERSION, type AuditReport, type ImportResult, type ReportTask, analyzeTraces, sortFindings, applyJudgement, buildReach, type StaticScanSummary, type ReportBait, type TaskWhere } from '@pyti/common';
import { buildTestSummary, parsePerf } from '../results/test-summary.js';
import { collectNetwork } from '../sinkhole/collect-network.js';

export const PYTI_VERSION = '0.1.0';

function jsonOf(buf: Buffer | undefined): Record<string, unknown> | undefined {
  if (!buf) return undefined;
  try {
    const v = JSON.parse(buf.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const strList = (v: unknown, max = 200): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, max).map((s) => s.slice(0, 500)) : undefined;

export interface ReportInput {
  dist: ValidatedDist;
  backend: Backend;
  plan: Plan;
  session: SessionOutcome;
  startedAt: Date;
  totalMs: number;
  /** The static scan of the distribution (host side): its findings join the dynamic ones. */
  staticScan?: StaticScanSummary;
  /** The audit's bait (planted paths and canaries), when bait was planted: the canary rules use it and the report keeps it. */
  bait?: ReportBait;
  /** Where each task ran (task-placement.ts); a task not named ran in the backend's sandbox (`guest`). */
  where?: Record<string, TaskWhere>;
}

export function buildReport({ dist, backend, plan, session, startedAt, totalMs, staticScan, bait, where }: ReportInput): AuditReport {
  const raw = (task: string, name: string): Buffer | undefined => session.raw.get(task)?.get(name);
  const notes: string[] = [];
  const tryParse = <T>(what: string, f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      notes.push(`${what}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const results = new Map((session.run?.tasks ?? []).map((t) => [t.id, t]));
  const tasks: ReportTask[] = plan.tasks.map((spec) => ({
    ...(results.get(spec.id) ?? { id: spec.id, status: 'skipped' as const, reason: session.infraError ? 'the job ended before this task ran' : 'not run', rawFiles: [] }),
    title: spec.title,
    failurePolicy: spec.failurePolicy,
    where: where?.[spec.id] ?? 'guest',
  }));

  const paths = session.hello?.paths ?? { home: '/home/pyti', work: '/work', tmp: '/tmp', input: '/input', wheelhouse: '/wheelhouse' };
  // The sinkhole's records feed the chain and canary-leak rules too.
  const network = collectNetwork(plan, raw, notes);
  const analysis = analyzeTraces(raw, paths, { bait, sinkhole: network });
  const traces = analysis.traces;
  const findings: Finding[] = sortFindings([...analysis.findings, ...(staticScan?.findings ?? [])]);

  // Planned test task: always a `tests` key (status `ran`, `no tests` or `not run` with the reason).
  const testTask = tasks.find((t) => t.id === 'test');
  const pytestJson = jsonOf(raw('test', 'pytest.json'));
  const tests = testTask && buildTestSummary({ pytestJson, outcomes: raw('test', 'test-outcomes.jsonl'), junit: raw('test', 'junit.xml'), task: testTask }, notes);
  if (testTask && testTask.status === 'fail' && typeof pytestJson?.reason === 'string') testTask.reason = pytestJson.reason.slice(0, 500);
  const perf = parsePerf(jsonOf(raw('perf', 'perf.json')));
  const cov = raw('coverage', 'coverage.json');
  const coverage = cov ? tryParse('coverage.json', () => parseCoverage(cov.toString('utf8'))) : undefined;
  const pj = raw('lint', 'pylint.json');
  const lint = pj ? tryParse('pylint.json', () => parsePylint(pj.toString('utf8'), raw('lint', 'pylint.txt')?.toString('utf8') ?? '', `${paths.work}/data/source`)) : undefined;
  const pc = raw('style', 'pycodestyle.txt');
  const style = pc ? parsePycodestyle(pc.toString('utf8'), `${paths.work}/data/source`) : undefined;
  const imp = jsonOf(raw('import', 'import.json'));
  // import.json's own reason (e.g. no top-level module) says more than "exit code 1".
  const importTask = tasks.find((t) => t.id === 'import');
  if (importTask?.status === 'fail' && typeof imp?.error === 'string') importTask.reason = imp.error.slice(0, 500);
  else if (importTask?.status === 'pass' && typeof imp?.note === 'string' && !importTask.reason) importTask.reason = imp.note.slice(0, 500);
  const reach = buildReach(raw, traces, analysis.windowsCommands);
  const imports: ImportResult[] | undefined = Array.isArray(imp?.modules)
    ? (imp.modules as Record<string, unknown>[]).slice(0, 500).map((m) => ({
        module: String(m.module ?? '').slice(0, 200), ok: m.ok === true,
        ...(typeof m.primary === 'boolean' ? { primary: m.primary } : {}), ...(m.optional === true ? { optional: true } : {}),
        error: typeof m.error === 'string' ? m.error.slice(0, 2000) : undefined,
        traceback: typeof m.traceback === 'string' ? m.traceback.slice(0, 8000) : undefined,
      }))
    : undefined;
  const bj = jsonOf(raw('build', 'build.json'));
  const ij = jsonOf(raw('install', 'install.json'));
  const pipReport = jsonOf(raw('install', 'pip-report.json'));
  // install.json lists what was installed (the install plan's wheels); pip's report when pip resolved (older raw data too).
  const installed = Array.isArray(ij?.installed)
    ? (ij.installed as Record<string, unknown>[]).slice(0, 500).map((i) => ({ name: String(i?.name ?? '').slice(0, 200), version: String(i?.version ?? '').slice(0, 100) }))
    : Array.isArray(pipReport?.install)
    ? (pipReport.install as Record<string, unknown>[]).slice(0, 500).map((i) => {
        const md = (i.metadata ?? {}) as Record<string, unknown>;
        return { name: String(md.name ?? '').slice(0, 200), version: String(md.version ?? '').slice(0, 100) };
      })
    : undefined;

  const installTask = tasks.find((t) => t.id === 'install');
  if (installTask?.status === 'fail' && typeof ij?.error === 'string' && !installTask.reason) installTask.reason = ij.error.slice(0, 500);
  const fallback = ij?.resolver_fallback as Record<string, unknown> | undefined;
  // pip's resolver ran in the guest (the host's install plan could not meet the requirements): said in the
  // report's notes and, when the task has no other reason, as its reason in the tasks table.
  if (fallback && typeof fallback.reason === 'string') {
    notes.push(`install: pip's resolver ran in the guest: ${fallback.reason.slice(0, 500)}`);
    if (installTask && !installTask.reason) installTask.reason = `pip's resolver ran in the guest: ${fallback.reason.slice(0, 460)}`;
  }
  const buildEnv = buildEnvironment(bj?.build_env);
  if (buildEnv?.installer === 'pip') notes.push(`build: pip made the isolated build environment in the guest: ${(buildEnv.reason ?? '').slice(0, 500)}`);
  if (buildEnv?.resolverFallback) notes.push(`build: pip's resolver ran in the guest: ${buildEnv.resolverFallback.reason.slice(0, 500)}`);
  const testFallback = pytestJson?.resolver_fallback as Record<string, unknown> | undefined;
  if (testFallback && typeof testFallback.reason === 'string') {
    notes.push(`test: pip's resolver ran in the guest: ${testFallback.reason.slice(0, 500)}`);
    if (testTask && !testTask.reason) testTask.reason = `pip's resolver ran in the guest: ${testFallback.reason.slice(0, 460)}`;
  }
  const result = classify(tasks, session, bj, ij, tests);
  const rawFiles = [...session.raw].flatMap(([t, files]) => [...files.keys()].map((n) => `raw/${t}/${n}`));
  const report: AuditReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'pyti', version: PYTI_VERSION },
    distribution: {
      filename: dist.filename, name: dist.name, version: dist.version, kind: dist.kind, sha256: dist.sha256, sizeBytes: dist.sizeBytes,
      summary: dist.summary, requiresPython: dist.requiresPython, requiresDist: dist.requiresDist,
      ...distributionMetadata(dist),
    },
    backend: { name: backend.name, isolation: backend.capabilities.isolation, network: backend.capabilities.network, accelerator: backend.capabilities.accelerator },
    guest: session.hello && { python: session.hello.python, platform: session.hello.platform, machine: session.hello.machine, tools: session.hello.tools, agentVersion: session.hello.agentVersion, paths: session.hello.paths },
    result, verdict: 'clean', score: 0, scoreReasons: [],
    static: staticScan && { files: staticScan.files, bytes: staticScan.bytes, truncated: staticScan.truncated },
    tasks, tests, perf, coverage, lint, style, imports,
    build: bj && {
      mode: typeof bj.mode === 'string' ? bj.mode : undefined, wheel: typeof bj.wheel === 'string' ? bj.wheel : null, missingBuildRequirements: strList(bj.missing_build_requirements),
      missingToolchain: strList(bj.missing_toolchain, 20), backend: typeof bj.build_backend === 'string' ? bj.build_backend.slice(0, 200) : undefined,
      backendDistribution: typeof bj.backend_distribution === 'string' ? bj.backend_distribution.slice(0, 200) : undefined,
      ...(buildEnv ? { environment: buildEnv } : {}),
      ...buildView(bj.build_view),
    },
    install: ij && {
      wheel: typeof ij.wheel === 'string' ? ij.wheel : undefined, missingDependencies: strList(ij.missing_dependencies), installed,
      ...(ij.installer === 'installer' || ij.installer === 'pip' ? { installer: ij.installer } : {}),
      ...(fallback && typeof fallback.reason === 'string' ? { resolverFallback: { reason: fallback.reason.slice(0, 1000), requirements: strList(fallback.requirements) ?? [] } } : {}),
    },
    reach, traces, findings, network, bait: analysis.bait,
    infraError: session.infraError,
    timings: { startedAt: startedAt.toISOString(), totalMs, bootMs: session.bootMs, runMs: session.runMs },
    rawFiles,
    console: session.console ? session.console.slice(-65536) : undefined,
  };
  if (notes.length) (report as AuditReport & { notes?: string[] }).notes = notes;
  return applyJudgement(report);
}

/** The core-metadata fields of the report's `distribution` beyond name, version, summary and requirements (present ones only). */
function distributionMetadata(dist: ValidatedDist): Partial<AuditReport['distribution']> {
  const out: Partial<AuditReport['distribution']> = {
    description: dist.description, descriptionTruncated: dist.descriptionTruncated, descriptionContentType: dist.descriptionContentType,
    author: dist.author, authorEmail: dist.authorEmail, maintainer: dist.maintainer, maintainerEmail: dist.maintainerEmail,
    license: dist.license, licenseExpression: dist.licenseExpression, keywords: dist.keywords, homePage: dist.homePage,
    downloadUrl: dist.downloadUrl, projectUrls: dist.projectUrls, classifiers: dist.classifiers, providesExtra: dist.providesExtra,
    metadataVersion: dist.metadataVersion,
  };
  for (const k of Object.keys(out) as (keyof typeof out)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/**
 * The result category: the first phase that did not pass decides it. A suite that ran and collected
 * nothing is `no-tests`, like one the test task found none in (never `pass`).
 */
export function classify(
  tasks: ReportTask[], session: Pick<SessionOutcome, 'infraError'>, build?: Record<string, unknown>, install?: Record<string, unknown>,
  tests?: { failed: number; errors: number; total?: number; status?: string; missingRequirements?: string[] },
): string {
  if (session.infraError) return session.infraError.kind;
  const t = (id: string): ReportTask | undefined => tasks.find((x) => x.id === id);
  const suffix = (r: ReportTask, deps: boolean): string =>
    r.status === 'timeout' ? ':timeout' : r.status === 'oom' ? ':oom' : r.status === 'limit' ? `:${r.limit}` : deps ? ':deps' : '';
  const inspect = t('inspect');
  if (inspect && inspect.status !== 'pass') return `inspect-fail${suffix(inspect, false)}`;
  const b = t('build');
  if (b && b.status !== 'pass') {
    // What the image cannot provide (a backend, cargo, a compiler, a header) says more than a missing requirement.
    if (b.status === 'fail' && (b.exitCode === 4 || (strList(build?.missing_toolchain)?.length ?? 0) > 0)) return 'build-fail:toolchain';
    return `build-fail${suffix(b, b.exitCode === 3 || Array.isArray(build?.missing_build_requirements))}`;
  }
  const i = t('install');
  if (i && i.status !== 'pass') return `install-fail${suffix(i, i.exitCode === 3 || Array.isArray(install?.missing_dependencies))}`;
  const im = t('import');
  if (im && im.status !== 'pass') return `import-fail${suffix(im, false)}`;
  const te = t('test');
  if (te && te.status !== 'pass') return `test-fail${suffix(te, te.exitCode === 3 || (tests?.missingRequirements?.length ?? 0) > 0)}`;
  if (tests && tests.failed + tests.errors > 0) return 'test-fail';
  if (tests?.status === 'no tests' || (tests?.status === 'ran' && tests.total === 0)) return 'no-tests';
  return 'pass';
}

/** build.json's `build_env` (tasks/guest/pyti_build_env.py), shape-checked: the report's `build.environment`. */
function buildEnvironment(v: unknown): NonNullable<AuditReport['build']>['environment'] {
  const o = v as Record<string, unknown> | undefined;
  if (typeof o !== 'object' || o === null || (o.installer !== 'installer' && o.installer !== 'pip')) return undefined;
  const fb = o.resolver_fallback as Record<string, unknown> | undefined;
  return {
    installer: o.installer,
    ...(typeof o.reason === 'string' ? { reason: o.reason.slice(0, 1000) } : {}),
    ...(fb && typeof fb === 'object' && typeof fb.reason === 'string' ? { resolverFallback: { reason: fb.reason.slice(0, 1000), requirements: strList(fb.requirements) ?? [] } } : {}),
  };
}

/** build.json's `build_view` (untrusted: shape checked, sizes capped) as the report's `build.view`. */
function buildView(v: unknown): { view?: NonNullable<AuditReport['build']>['view'] } {
  if (!v || typeof v !== 'object') return {};
  const o = v as { distributions?: unknown; widened?: unknown };
  const distributions = strList(o.distributions, 20);
  if (!distributions) return {};
  return { view: { distributions, ...(o.widened === true ? { widened: true } : {}) } };
}
