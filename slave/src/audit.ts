/**
 * One audit, end to end on this machine: validate the distribution, run the audit plan in a sandbox
 * backend, turn the raw data into a report, and write report.json, report.html and the raw data.
 * Package failures are data in the report; only what stops an audit from happening is thrown.
 */
import { chmodSync, copyFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { PytiError, type Plan, type TaskLimits } from '@pyti/vm-agent';
import { auditPlan, splitPlanForVm, tasksDir, type SplitPlan } from '@pyti/tasks';
import { ensureAgentBundle, requireRootfs } from '@pyti/images';
import type { Backend } from './backends/backend.js';
import { BwrapBackend } from './backends/bwrap.js';
import { runSplitSessions } from './split-session.js';
import { createJobDir, removeJobDir, sweepStaleJobDirs } from './job-dir.js';
import { guestSizeFor, type GuestSize } from './backends/guest-size.js';
import { DEFAULT_SESSION_LIMITS, runAgentSession, type SessionEvents, type SessionLimits, type SessionOutcome } from './agent-session.js';
import { generateBait } from './bait/generate-bait.js';
import { validateDist, type ValidatedDist, type AuditReport, type InfraError, type InfraErrorKind, type DistributionOrigin, type RetriedAttempt, renderHtml, loadStaticScanner, type StaticScanSummary } from '@pyti/common';
import { readableWheelhouse } from './input/readable-wheelhouse.js';
import { readTestRequirements, TEST_REQUIREMENTS_FILE, type TestRequirementsFile } from './prefetch/test-requirements.js';
import { emptyInstallPlan, INSTALL_PLAN_FILE, installPlanJson, type InstallPlan } from './prefetch/install-plan.js';
import { installPlanFromWheelhouse } from './prefetch/wheelhouse-plan.js';
import { buildReport } from './report/build-report.js';
import { testRunInfraError } from './results/test-summary.js';
import { RAW_NAME } from './guest-messages.js';

/** A distribution file name that may become a host path: one path element, not hidden, no NUL. */
export const SAFE_DIST_NAME = /^(?!\.)[^/\\\0]{1,255}$/;

export type AuditProgress =
  | { kind: 'validated'; dist: ValidatedDist }
  | { kind: 'sandbox-started'; backend: string }
  | { kind: 'guest-ready'; bootMs: number; python: string }
  | { kind: 'task-started'; id: string }
  | { kind: 'task-output'; id: string; text: string }
  | { kind: 'task-finished'; id: string; status: string; durationMs?: number; reason?: string }
  | { kind: 'retrying'; infraError: InfraError; attempt: number }
  | { kind: 'report-written'; dir: string };

export interface AuditOptions {
  distPath: string;
  /** Directory of wheels for dependencies and build requirements (may be absent: then empty). */
  wheelhouse?: string;
  /** Where report.json, report.html and raw/ go. */
  outDir: string;
  backend: Backend;
  parallel?: number;
  limits?: Record<string, Partial<TaskLimits>>;
  sessionLimits?: SessionLimits;
  /** The guest root filesystem (default: the cached image of the current recipe). */
  rootfs?: string;
  onProgress?: (p: AuditProgress) => void;
  /**
   * How many times an attempt that ended in a retried infrastructure failure (RETRIED_INFRA) is run
   * again from the start on a fresh sandbox (default 1). The report lists the failed attempts.
   */
  infraRetries?: number;
  /** Task ids to leave out, with what depends on them (e.g. `['test', 'lint', 'style']` for a security-only audit). */
  skip?: string[];
  /** Plant canary credentials and look for their leaks (default true; false leaves the bait tasks out). */
  bait?: boolean;
  /** Where the distribution came from (`pyti audit` by name or URL), recorded as the report's `distribution.origin`. */
  origin?: DistributionOrigin;
  /** Aborting stops the audit: the sandbox is ended (disposed of) and the promise rejects with the signal's reason; no report is written. */
  signal?: AbortSignal;
  /** Add the perf task: the suite's 5 slowest passed tests timed 5 more times each (report `perf`). */
  perf?: boolean;
  /**
   * The test requirements as prefetch resolved them (`PrefetchSummary.testRequirements`), written to the
   * guest as `{input}/pyti-test-requirements.json`. When absent, an sdist's declared ones are read
   * (readTestRequirements) with nothing unresolved: the guest's pip then names what the wheelhouse lacks.
   */
  testRequirements?: TestRequirementsFile;
  /**
   * The exact wheels the guest installs (`PrefetchResult.installPlan`), written to the guest as
   * `{input}/pyti-install-plan.json`. When absent, the host resolves the distribution's static
   * requirements against `wheelhouse` with the guest's pip, offline (wheelhouse-plan.ts).
   */
  installPlan?: InstallPlan;
  /**
   * VM backends only: the process sandbox the static tasks (inspect, lint, style: task-placement.ts)
   * run in beside the guest (default: bwrap, when it can run here); `false` runs every task in the guest.
   */
  staticSandbox?: Backend | false;
}

export interface AuditOutcome {
  report: AuditReport;
  outDir: string;
  /** See exitCodeFor. */
  exitCode: AuditExitCode;
}

/** 0 clean and passed, 1 a package failure with nothing found, 2 could not audit, 3 suspicious, 4 malicious. */
export type AuditExitCode = 0 | 1 | 2 | 3 | 4;

/**
 * Exit code of a finished report: 4 malicious, 3 suspicious, 2 error (could not audit), 1 failed
 * (or clean with a failing import or tests), 0 clean with every task passed (`pass`, or `no-tests`: a
 * distribution without tests). Reports of older
 * slaves that say `flagged` count as suspicious.
 */
export function exitCodeFor(report: Pick<AuditReport, 'verdict' | 'result'>): AuditExitCode {
  switch (report.verdict as string) {
    case 'malicious': return 4;
    case 'suspicious': case 'flagged': return 3;
    case 'error': return 2;
    case 'clean': return report.result === 'pass' || report.result === 'no-tests' ? 0 : 1;
    default: return 1;
  }
}

/**
 * Infrastructure failures that say the sandbox, not the package, failed: the guest never said hello,
 * died, stopped answering, or did not end a task at its limit. Protocol violations (possibly a
 * compromised guest) and job timeouts are not retried.
 */
export const RETRIED_INFRA: ReadonlySet<InfraErrorKind> = new Set<InfraErrorKind>(['error:boot-timeout', 'error:sandbox', 'error:guest-unresponsive', 'error:task-overrun']);

export async function auditDistribution(opts: AuditOptions): Promise<AuditOutcome> {
  const startedAt = new Date();
  const t0 = Date.now();
  const progress = opts.onProgress ?? (() => undefined);
  opts.signal?.throwIfAborted();
  const dist = await validateDist(opts.distPath);
  progress({ kind: 'validated', dist });
  const staticScan = await scanStatically(dist);
  if (opts.wheelhouse !== undefined) {
    let ok = false;
    try {
      ok = statSync(opts.wheelhouse).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) throw new PytiError('PYTI_WHEELHOUSE_INVALID', `wheelhouse ${opts.wheelhouse} is not a directory`);
  }
  const why = await opts.backend.probe();
  if (why) throw new PytiError('PYTI_BACKEND_UNAVAILABLE', `backend ${opts.backend.name} cannot run here: ${why}`);
  const rootfs = opts.rootfs ?? requireRootfs().path;
  const agentDir = await ensureAgentBundle();
  sweepStaleJobDirs();
  // Fresh canary credentials for this audit, planted before the build (see slave/src/bait).
  const bait = opts.bait === false ? undefined : generateBait();
  const plan = auditPlan({ distFile: dist.filename, parallel: opts.parallel, limits: opts.limits, skip: opts.skip, bait, perf: opts.perf });
  const testRequirements = opts.testRequirements ?? await declaredTestRequirements(dist, rootfs, opts.signal);
  const installPlan = opts.installPlan ?? (opts.wheelhouse === undefined
    ? emptyInstallPlan('no wheelhouse: nothing to install besides the package')
    : await installPlanFromWheelhouse({ dist, rootfs, wheelhouse: opts.wheelhouse, testRequirements, signal: opts.signal }));
  const split = await staticSplit(opts, plan);
  const retried: RetriedAttempt[] = [];
  let session: SessionOutcome;
  for (let attempt = 0; ; attempt++) {
    const t1 = Date.now();
    session = await runAttempt(opts, dist, plan, rootfs, agentDir, t0, testRequirements, installPlan, split);
    // A test run the sandbox failed (killed from outside, out of disk) is retried like any sandbox failure.
    session.infraError ??= testRunInfraError(session);
    const infra = session.infraError;
    if (!infra || !RETRIED_INFRA.has(infra.kind) || attempt >= (opts.infraRetries ?? 1)) break;
    retried.push({ infraError: infra, console: session.console.slice(-16384), totalMs: Date.now() - t1 });
    progress({ kind: 'retrying', infraError: infra, attempt: attempt + 1 });
  }
  const report = buildReport({
    dist, backend: opts.backend, plan, session, startedAt, totalMs: Date.now() - t0, staticScan,
    bait: bait && { files: bait.files.map((f) => f.path), canaries: bait.canaries }, where: split?.split.where,
  });
  if (retried.length) report.retried = retried;
  if (opts.origin) report.distribution.origin = opts.origin;
  writeReport(opts.outDir, report, session.raw, dist.path);
  progress({ kind: 'report-written', dir: opts.outDir });
  return { report, outDir: opts.outDir, exitCode: exitCodeFor(report) };
}

/**
 * The guest size (guest-size.ts) of a usual audit's plan with these options (an sdist, bait on): what
 * a slave's pool of waiting VM guests is filled with before its first job.
 */
export function auditGuestSize(opts: Pick<AuditOptions, 'parallel' | 'limits' | 'skip' | 'perf'> = {}): GuestSize {
  const plan = auditPlan({ distFile: 'package-0.tar.gz', parallel: opts.parallel, limits: opts.limits, skip: opts.skip, bait: generateBait(), perf: opts.perf });
  return guestSizeFor(plan, cpus().length);
}

/** One attempt: a fresh job directory and sandbox, the plan run through it, everything removed after. */
async function runAttempt(opts: AuditOptions, dist: ValidatedDist, plan: Plan, rootfs: string, agentDir: string, t0: number, testRequirements: TestRequirementsFile,
  installPlan: InstallPlan, split?: { split: SplitPlan; host: Backend }): Promise<SessionOutcome> {
  const progress = opts.onProgress ?? (() => undefined);
  const jobDir = createJobDir();
  try {
    const inputDir = join(jobDir, 'input');
    mkdirSync(inputDir);
    copyFileSync(dist.path, join(inputDir, dist.filename));
    // Readable by every task uid whatever the file's own mode (hatchling writes its sdists 0600).
    chmodSync(join(inputDir, dist.filename), 0o644);
    writeFileSync(join(inputDir, TEST_REQUIREMENTS_FILE), `${JSON.stringify(testRequirements, null, 2)}\n`);
    writeFileSync(join(inputDir, INSTALL_PLAN_FILE), installPlanJson(installPlan));
    const wheelhouse = opts.wheelhouse !== undefined ? readableWheelhouse(opts.wheelhouse, join(jobDir, 'wheelhouse')) : join(jobDir, 'empty-wheelhouse');
    mkdirSync(wheelhouse, { recursive: true });
    opts.signal?.throwIfAborted();
    // Sized from the whole plan, as the pool's guests are (auditGuestSize): a split plan's guest part sizes the same.
    const guest = guestSizeFor(plan, cpus().length);
    if (split) {
      const session = await runSplitSessions({
        plan, split: split.split, guest: opts.backend, host: split.host, inputs: { inputDir, wheelhouse, agentDir, tasksDir: tasksDir(), rootfs, jobDir, guest },
        limits: opts.sessionLimits ?? DEFAULT_SESSION_LIMITS, events: sessionEvents(progress, t0), signal: opts.signal,
        guestStarted: () => progress({ kind: 'sandbox-started', backend: opts.backend.name }),
      });
      opts.signal?.throwIfAborted();
      return session;
    }
    const instance = await opts.backend.start({ inputDir, wheelhouse, agentDir, tasksDir: tasksDir(), rootfs, jobDir, guest });
    const stop = (): void => void instance.dispose().catch(() => undefined);
    opts.signal?.addEventListener('abort', stop, { once: true });
    let session: SessionOutcome;
    try {
      if (opts.signal?.aborted) stop();
      progress({ kind: 'sandbox-started', backend: opts.backend.name });
      session = await runAgentSession(instance, plan, opts.sessionLimits ?? DEFAULT_SESSION_LIMITS, sessionEvents(progress, t0));
    } finally {
      opts.signal?.removeEventListener('abort', stop);
    }
    opts.signal?.throwIfAborted();
    return session;
  } finally {
    removeJobDir(jobDir);
  }
}

/** The session events that become audit progress. */
function sessionEvents(progress: (p: AuditProgress) => void, t0: number): SessionEvents {
  return {
    hello: (h) => progress({ kind: 'guest-ready', bootMs: Date.now() - t0, python: h.python }),
    taskStarted: (id) => progress({ kind: 'task-started', id }),
    taskOutput: (id, _s, text) => progress({ kind: 'task-output', id, text }),
    taskFinished: (r) => progress({ kind: 'task-finished', id: r.id, status: r.status, durationMs: r.durationMs, reason: r.reason }),
  };
}

/**
 * For a VM backend, the plan split so that the static tasks run in the host's process sandbox
 * (task-placement.ts); undefined (everything in one session) for other backends, when the sandbox
 * cannot run here, or when nothing moves.
 */
async function staticSplit(opts: AuditOptions, plan: Plan): Promise<{ split: SplitPlan; host: Backend } | undefined> {
  if (opts.backend.capabilities.isolation !== 'vm' || opts.staticSandbox === false) return undefined;
  const host = opts.staticSandbox ?? new BwrapBackend();
  if (await host.probe()) return undefined;
  const split = splitPlanForVm(plan);
  return split.first || split.beside ? { split, host } : undefined;
}

/**
 * The test requirements an sdist declares (nothing unresolved: no pip ran), for an audit not given
 * prefetch's; empty for a wheel, or when they cannot be read.
 */
async function declaredTestRequirements(dist: ValidatedDist, rootfs: string, signal?: AbortSignal): Promise<TestRequirementsFile> {
  if (dist.kind !== 'sdist') return { requirements: [], unresolved: [], sources: [] };
  try {
    const d = await readTestRequirements(dist.path, rootfs, signal);
    return { requirements: d.requirements, unresolved: [], sources: d.sources };
  } catch {
    // Unreadable declarations leave the test task with pytest and coverage only; the audit goes on.
    signal?.throwIfAborted();
    return { requirements: [], unresolved: [], sources: [] };
  }
}

/**
 * The static scan of the validated distribution (host side, the archive read as data). A scanner
 * that fails leaves no static findings rather than no report; a build without one scans nothing.
 */
async function scanStatically(dist: ValidatedDist): Promise<StaticScanSummary | undefined> {
  const scan = await loadStaticScanner();
  if (!scan) return undefined;
  try {
    return await scan(dist.path);
  } catch (err) {
    return { files: 0, bytes: 0, truncated: true, findings: [{ rule: 'static-scan-failed', severity: 'info', phase: 'static', title: `the static scan failed: ${(err as Error).message.slice(0, 300)}`, evidence: [] }] };
  }
}

/**
 * Writes report.json, report.html and raw/<task>/<file> into `dir`, and a copy of the distribution
 * as dist/<filename> (when `distPath` is given) so that `pyti rescore` can re-run the static rules.
 */
export function writeReport(dir: string, report: AuditReport, raw: Map<string, Map<string, Buffer>>, distPath?: string): void {
  mkdirSync(dir, { recursive: true });
  if (distPath && SAFE_DIST_NAME.test(report.distribution.filename)) {
    mkdirSync(join(dir, 'dist'), { recursive: true });
    copyFileSync(distPath, join(dir, 'dist', report.distribution.filename));
  }
  for (const [task, files] of raw) {
    // Names were checked against RAW_NAME on arrival; check again before they become host paths.
    if (!/^[a-z][a-z0-9-]*$/.test(task)) continue;
    mkdirSync(join(dir, 'raw', task), { recursive: true });
    for (const [name, bytes] of files) if (RAW_NAME.test(name)) writeFileSync(join(dir, 'raw', task, name), bytes);
  }
  writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 1));
  writeFileSync(join(dir, 'report.html'), renderHtml(report));
}
