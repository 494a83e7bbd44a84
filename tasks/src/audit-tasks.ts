/**
 * The audit task graph, as data: each task's dependencies, data, limits, failure policy and command.
 * Commands run inside the guest; `{…}` placeholders are expanded there (see vm-agent's TaskSpec).
 */
import type { Plan, TaskLimits, TaskSpec } from '@pyti/vm-agent';
import { withBait, type PlanBait } from './bait-tasks.js';
import { STRACE_ARGS } from './traced-calls.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Limits of a task unless it says otherwise: generous for real packages, tight enough for hostile ones. */
export const DEFAULT_LIMITS: Readonly<TaskLimits> = Object.freeze({
  wallSeconds: 900,
  noOutputSeconds: 300,
  cpuSeconds: 900,
  memoryBytes: 2 * GiB,
  processes: 256,
  outputBytes: 16 * MiB,
});

const PY = 'python3';
const helper = (name: string): string => `{tasks}/guest/${name}`;

/**
 * Limits of the test task: real suites (26 000 tests, minutes of collection, reruns of the failed
 * ones) need more than the other tasks. VM guests have 1.5 GiB by default (qemu/libvirt
 * memoryMiB): there the guest's memory, counted as the task cgroup's oom kills, is the bound.
 * The host's job watchdog (agent-session.ts jobSeconds) is above the whole plan's longest path.
 */
export const TEST_LIMITS: Readonly<Partial<TaskLimits>> = Object.freeze({
  wallSeconds: 3600,
  cpuSeconds: 3600,
  noOutputSeconds: 900,
  outputBytes: 64 * MiB,
  memoryBytes: 4 * GiB,
});

/** Options that shape the plan. */
export interface AuditPlanOptions {
  /** File name of the distribution under `{input}`. */
  distFile: string;
  /** Independent tasks at once (1..8). */
  parallel?: number;
  /** Per-task limit overrides, by task id. */
  limits?: Record<string, Partial<TaskLimits>>;
  /** Task ids to leave out (their dependents are left out too). */
  skip?: string[];
  /** Canary credentials to plant before the build and look for afterwards (see bait-tasks.ts). */
  bait?: PlanBait;
  /** Add the `perf` task: the suite's 5 slowest passed tests timed 5 more times each. */
  perf?: boolean;
}

/**
 * The lock of the tasks that run the installed package's code (import, test): they run one after the
 * other, as one user, like someone importing a package and then running its tests. Without it they
 * ran as different slot uids, often together: a file the first left in the shared home (a dropped
 * script, ~/.bashrc) was not writable by the second, and coverage depended on which ran first.
 */
const PACKAGE_HOME = 'package-home';

/**
 * The environment of the traced tasks (build, install, import, execute), not of `test` (tests must
 * behave as natively): PyTI's sitecustomize (tasks/guest/site) appends the fallback modules to the
 * end of sys.path and adds the Windows-only stdlib names; the Windows program shims (`{shims}`, the
 * agent's exec-able copy of tasks/guest/winshims) come first on PATH and log to `{raw}/windows-shims.jsonl`.
 */
export const TRACED_ENV: Readonly<Record<string, string>> = Object.freeze({
  PYTHONPATH: '{tasks}/guest/site',
  PYTI_WINDOWS_SHIMS: '1',
  PYTI_SHIM_LOG: '{raw}/windows-shims.jsonl',
  PYTI_EXE_SHIM: '{shims}/exe',
  PATH: '{shims}:/usr/local/bin:/usr/bin:/bin',
});

/** The host writes the test requirements (slave/src/prefetch/test-requirements.ts) here; absent: none declared. */
export const TEST_REQUIREMENTS_FILE = 'pyti-test-requirements.json';

/**
 * The host writes the install plan here (slave/src/prefetch/install-plan.ts): the exact wheels the install
 * and test tasks install, as the host resolved them; no resolver runs in the guest.
 */
export const INSTALL_PLAN_FILE = 'pyti-install-plan.json';

/** The task definitions of an audit of `{input}/<distFile>` (`perf`: with the perf task). */
export function auditTasks(distFile: string, opts: { perf?: boolean } = {}): TaskSpec[] {
  const dist = `{input}/${distFile}`;
  const t = (spec: Omit<TaskSpec, 'limits'> & { limits?: Partial<TaskLimits> }): TaskSpec => ({
    ...spec,
    limits: { ...DEFAULT_LIMITS, ...spec.limits },
  });
  return [
    t({
      id: 'inspect', title: 'Inspect the distribution: metadata and layout',
      dependsOn: [], needs: [], produces: ['source', 'meta'], failurePolicy: 'halt',
      limits: { wallSeconds: 120, noOutputSeconds: 120 },
      command: [PY, helper('inspect_dist.py'), dist, '{data:source}', '{data:meta}', '{raw}'],
    }),
    t({
      id: 'build', title: 'Build a wheel from the sdist (traced)',
      dependsOn: [], needs: ['source', 'meta'], produces: ['wheel'], failurePolicy: 'halt', env: { ...TRACED_ENV }, network: 'sinkhole',
      command: [PY, helper('build_wheel.py'), dist, '{data:source}', '{data:meta}', '{data:wheel}', '{raw}', '{scratch}', '{wheelhouse}', `{input}/${INSTALL_PLAN_FILE}`],
    }),
    t({
      id: 'install', title: 'Install the wheel and its resolved dependencies into a fresh venv, offline (traced)',
      dependsOn: [], needs: ['wheel'], produces: ['venv'], failurePolicy: 'halt', env: { ...TRACED_ENV }, network: 'sinkhole',
      command: [PY, helper('install_wheel.py'), '{data:wheel}', '{data:venv}', '{raw}', '{wheelhouse}', `{input}/${INSTALL_PLAN_FILE}`],
    }),
    t({
      id: 'import', title: 'Import every top-level module (traced)',
      dependsOn: [], needs: ['venv', 'meta'], produces: [], failurePolicy: 'flunk', locks: [PACKAGE_HOME],
      limits: { wallSeconds: 300 }, env: { ...TRACED_ENV }, network: 'sinkhole',
      command: [...STRACE_ARGS,
        '-o', '{raw}/import.strace', '{data:venv}/bin/python', helper('import_all.py'), '{data:meta}', '{raw}'],
    }),
    t({
      id: 'test', title: 'Run the test suite with pytest under coverage',
      dependsOn: [], needs: ['venv', 'source', 'meta'], produces: ['coverage-data', 'test-run'], failurePolicy: 'flunk', locks: [PACKAGE_HOME],
      limits: TEST_LIMITS,
      // The image's python3 runs it: the test wheels of the host's install plan are installed into a copy of
      // the venv ({data:test-run}/venv), where the venv's python then runs pytest from the whole sdist's root.
      command: [PY, helper('run_tests.py'), '{data:source}', '{data:meta}', '{data:coverage-data}', '{raw}', '{scratch}',
        '{data:venv}', '{wheelhouse}', `{input}/${TEST_REQUIREMENTS_FILE}`, '{data:test-run}', `{input}/${INSTALL_PLAN_FILE}`],
    }),
    ...(opts.perf ? [t({
      id: 'perf', title: 'Time the slowest tests: 5 runs each',
      dependsOn: ['test'], needs: ['test-run'], produces: [], failurePolicy: 'warn', locks: [PACKAGE_HOME],
      limits: { wallSeconds: 1800, cpuSeconds: 1800, noOutputSeconds: 900, memoryBytes: 4 * GiB },
      command: [PY, helper('run_perf.py'), '{data:test-run}', '{raw}', '{scratch}'],
    })] : []),
    t({
      id: 'execute', title: 'Run the scripts, entry points, functions and classes (traced)',
      dependsOn: [], needs: ['venv', 'meta'], produces: [], failurePolicy: 'warn', locks: [PACKAGE_HOME],
      limits: { wallSeconds: 240 }, env: { ...TRACED_ENV }, network: 'sinkhole',
      // After test in plan order (same lock, so one after the other): the tests see what import left,
      // as before. execute_dist.py runs itself under pyti_common.STRACE, writing {raw}/execute.strace.
      command: ['{data:venv}/bin/python', helper('execute_dist.py'), '{data:meta}', '{raw}'],
    }),
    t({
      id: 'coverage', title: 'Line coverage of the package during its tests',
      dependsOn: [], needs: ['coverage-data', 'test-run'], produces: [], failurePolicy: 'warn',
      limits: { wallSeconds: 300 },
      // The image's coverage reads the data (the test venv's coverage when the image's cannot).
      command: [PY, helper('report_coverage.py'), '{data:coverage-data}', '{raw}', '{data:test-run}/venv'],
    }),
    t({
      id: 'lint', title: 'pylint: score and messages',
      dependsOn: [], needs: ['source'], produces: [], failurePolicy: 'warn',
      command: [PY, helper('lint_source.py'), 'pylint', '{data:source}', '{raw}', '{wheelhouse}'],
    }),
    t({
      id: 'style', title: 'pycodestyle: PEP 8 counts',
      dependsOn: [], needs: ['source'], produces: [], failurePolicy: 'warn',
      limits: { wallSeconds: 300 },
      command: [PY, helper('lint_source.py'), 'pycodestyle', '{data:source}', '{raw}'],
    }),
  ];
}

/** The audit plan for one distribution, with options applied. */
export function auditPlan(opts: AuditPlanOptions): Plan {
  let tasks = auditTasks(opts.distFile, { perf: opts.perf });
  const skip = new Set(opts.skip ?? []);
  // Leaving a task out leaves out what depends on it.
  let changed = true;
  while (changed) {
    changed = false;
    const producedBySkipped = new Set(tasks.filter((t) => skip.has(t.id)).flatMap((t) => t.produces));
    for (const t of tasks) {
      if (skip.has(t.id)) continue;
      if (t.dependsOn.some((d) => skip.has(d)) || t.needs.some((n) => producedBySkipped.has(n))) {
        skip.add(t.id);
        changed = true;
      }
    }
  }
  tasks = tasks.filter((t) => !skip.has(t.id));
  if (opts.bait && !skip.has('bait')) tasks = withBait(tasks, opts.bait).filter((t) => !skip.has(t.id));
  tasks = tasks.map((t) => ({ ...t, limits: { ...t.limits, ...opts.limits?.[t.id] } }));
  // The test task keeps its reruns of failed tests inside its own wall-clock limit.
  tasks = tasks.map((t) => (t.id === 'test' ? { ...t, env: { ...t.env, PYTI_WALL_SECONDS: String(t.limits.wallSeconds) } } : t));
  return { tasks, parallel: opts.parallel ?? 2 };
}

/** Where the in-guest helper scripts live in this repository (mounted read-only at `{tasks}`). */
export function tasksDir(): string {
  return new URL('../', import.meta.url).pathname.replace(/\/$/, '');
}
