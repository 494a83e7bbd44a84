/**
 * Prefetching a job's dependencies: the runtime requirements of the distribution (its Requires-Dist)
 * and, for an sdist, its build requirements, each resolved and downloaded by the guest's own pip
 * (pip-download.ts) through the shared wheel cache (wheel-cache.ts); the job's wheelhouse then holds
 * hard links to exactly the wheels pip resolved.
 *
 * The two sets are resolved separately (a project may pin a setuptools for building that its runtime
 * requirements would conflict with). A failure to resolve is data (`PrefetchSummary.error`): the audit
 * still runs and its install then fails as `install-fail:deps` naming what is missing.
 *
 * A third group, `test requirements` (test-requirements.ts, test-prefetch.ts), is the declared test
 * requirements plus pytest and coverage, resolved together with the runtime requirements; what cannot
 * be resolved is named in `PrefetchSummary.testRequirements.unresolved` (the tests then do not run:
 * `test-fail:deps`), not in `error`.
 */
import type { PrefetchSummary, ValidatedDist } from '@pyti/common';
import { sdistRequirements } from './sdist-requirements.js';
import type { GuestTags } from './guest-tags.js';
import { pipDownload } from './pip-download.js';
import { screenRequirements } from './requirements.js';
import type { CachedWheel, WheelCache } from './wheel-cache.js';
import { readTestRequirements, type DeclaredTestRequirements } from './test-requirements.js';
import { resolveTestRequirements } from './test-prefetch.js';
import type { InstallPlan } from './install-plan.js';
import { backendExtraRequirements } from './build-plan.js';

/** What prefetch returns: the summary (sent to the master) and the install plan (for the guest only). */
export interface PrefetchResult extends PrefetchSummary {
  /**
   * The exact wheels the guest installs (install-plan.ts): the runtime group's wheels as pip resolved
   * them, and the test group's beyond those; written into the job's input directory by the audit.
   */
  installPlan: InstallPlan;
}

export interface PrefetchOptions {
  /** The distribution, as validateDist read it. */
  dist: ValidatedDist;
  /** The job's wheelhouse directory (created; filled with hard links). */
  wheelhouse: string;
  cache: WheelCache;
  rootfs: string;
  tags: GuestTags;
  /** pip's `--index-url`. */
  simpleUrl: string;
  /** Per pip run. Default 10 min. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Told what is happening, one line at a time. */
  onLog?: (line: string) => void;
}

/** Fetches the dependencies and build requirements of `dist` into its wheelhouse. */
export async function prefetchDependencies(o: PrefetchOptions): Promise<PrefetchResult> {
  const t0 = Date.now();
  const log = o.onLog ?? (() => undefined);
  const errors: string[] = [];
  const groups: RequirementGroup[] = [];
  let runtimeReqs = o.dist.requiresDist;
  let buildReqs: string[] = [];
  let backend: string | undefined;
  if (o.dist.kind === 'sdist') {
    const sr = await sdistRequirements(o.dist.path, o.rootfs, o.signal);
    for (const n of sr.notes) log(n);
    // Metadata before 2.2 need not list Requires-Dist in an sdist's PKG-INFO: fall back to the static sources.
    if (!runtimeReqs.length && sr.runtime) runtimeReqs = sr.runtime;
    buildReqs = sr.build;
    backend = sr.backend;
    errors.push(...sr.problems);
  }
  const runtime = screenRequirements(runtimeReqs);
  const build = screenRequirements(buildReqs);
  groups.push({ what: 'dependencies', reqs: runtime.accepted, installed: true }, {
    what: 'build requirements', reqs: build.accepted, buildEnvironment: true,
    extra: o.dist.kind === 'sdist' ? screenRequirements(backendExtraRequirements(build.accepted, backend)).accepted : [],
  });
  for (const r of build.refused) errors.push(`build requirement ${JSON.stringify(r.requirement)} refused: ${r.reason}`);
  for (const r of runtime.refused) errors.push(`requirement ${JSON.stringify(r.requirement)} refused: ${r.reason}`);

  let declared: DeclaredTestRequirements = { requirements: [], sources: [], notes: [] };
  if (o.dist.kind === 'sdist') {
    try {
      declared = await readTestRequirements(o.dist.path, o.rootfs, o.signal);
    } catch (err) {
      o.signal?.throwIfAborted();
      log(`test requirements: not read (${(err as Error).message.split('\n')[0]})`);
    }
  }
  for (const n of declared.notes) log(`test requirements: ${n}`);
  return prefetchRequirementGroups(o, groups, errors, t0, { declared, runtime: runtime.accepted });
}

/** The test group of prefetchRequirementGroups: declared test requirements, resolved with the `runtime` ones. */
export interface TestGroup {
  declared: DeclaredTestRequirements;
  runtime: string[];
}

/** A set of screened requirements resolved together, named for the log and the summary (`build requirements`). */
export interface RequirementGroup {
  what: string;
  reqs: string[];
  /** The group the install task installs (the runtime requirements): its wheels are the install plan's `runtime`. */
  installed?: boolean;
  /** The sdist's build requirements: its wheels are the install plan's `build` (the isolated build environment). */
  buildEnvironment?: boolean;
  /** Resolved with `reqs` when that resolves, else left out (the backend's known additions, build-plan.ts). */
  extra?: string[];
}

/**
 * Resolves and downloads each group with the guest's pip through the wheel cache, links the wheels
 * into `o.wheelhouse` and summarizes; `errors` (problems found before, e.g. refused requirements) go
 * into the summary with pip's own failures.
 */
export async function prefetchRequirementGroups(o: Omit<PrefetchOptions, 'dist'>, groups: RequirementGroup[], errors: string[] = [], t0 = Date.now(), tests?: TestGroup): Promise<PrefetchResult> {
  // Holding a use of the wheel cache: its pruner waits until the wheels are linked into the wheelhouse.
  return o.cache.use(() => prefetchGroupsInUse(o, groups, errors, t0, tests));
}

async function prefetchGroupsInUse(o: Omit<PrefetchOptions, 'dist'>, groups: RequirementGroup[], errors: string[], t0: number, tests?: TestGroup): Promise<PrefetchResult> {
  const log = o.onLog ?? (() => undefined);
  const wheels = new Map<string, CachedWheel>();
  const failed = new Set<RequirementGroup>();
  const planNotes: string[] = [];
  const runtimeWheels = new Map<string, CachedWheel>();
  const buildWheels = new Map<string, CachedWheel>();
  let buildRequires: string[] | undefined;
  let testWheels: CachedWheel[] | undefined;
  for (const g of groups) {
    if (!g.reqs.length) continue;
    log(`resolving ${g.what}: ${g.reqs.join(', ')}`);
    const dir = o.cache.stage();
    try {
      const download = (requirements: string[]): ReturnType<typeof pipDownload> =>
        pipDownload({ rootfs: o.rootfs, tags: o.tags, simpleUrl: o.simpleUrl, downloadDir: dir, requirements, timeoutMs: o.timeoutMs, signal: o.signal });
      let r = await download(g.extra?.length ? [...g.reqs, ...g.extra] : g.reqs);
      let resolved = g.extra?.length && r.ok ? [...g.reqs, ...g.extra] : g.reqs;
      if (!r.ok && g.extra?.length) {
        log(`resolving ${g.what} without ${g.extra.join(', ')}`);
        r = await download(g.reqs);
        resolved = g.reqs;
      }
      if (!r.ok) {
        errors.push(`${g.what}: ${r.error}`);
        failed.add(g);
      }
      for (const w of await o.cache.commit(dir, r.files)) {
        if (!wheels.has(w.filename)) wheels.set(w.filename, w);
        if (g.installed && r.ok) runtimeWheels.set(w.filename, w);
        if (g.buildEnvironment && r.ok) buildWheels.set(w.filename, w);
      }
      if (g.installed && !r.ok) planNotes.push(`${g.what} not resolved: the install plan has none of them`);
      if (g.buildEnvironment) buildRequires = r.ok ? resolved : undefined;
      if (g.buildEnvironment && !r.ok) planNotes.push(`${g.what} not resolved: the build environment is not planned`);
    } finally {
      o.cache.unstage(dir);
    }
  }
  let testRequirements: PrefetchSummary['testRequirements'];
  if (tests) {
    // Resolved with the runtime requirements when those resolve (else install fails anyway: resolve the tests' alone).
    const runtimeFailed = groups.some((g) => failed.has(g) && g.reqs === tests.runtime);
    testRequirements = await resolveTestRequirements(o, runtimeFailed ? [] : tests.runtime, tests.declared, (ws) => {
      for (const w of ws) if (!wheels.has(w.filename)) wheels.set(w.filename, w);
      testWheels = ws;
    });
  }
  const list = [...wheels.values()];
  o.cache.linkInto(list, o.wheelhouse);
  const summary: PrefetchSummary = {
    wheels: list.map((w) => w.filename).sort(),
    downloaded: list.filter((w) => !w.cached).length,
    durationMs: Date.now() - t0,
  };
  if (errors.length) summary.error = errors.join('\n').slice(0, 8000);
  if (testRequirements) summary.testRequirements = testRequirements;
  log(`${summary.wheels.length} wheels (${summary.downloaded} downloaded)${summary.error ? `; ${summary.error.split('\n')[0]}` : ''}`);
  const planned = (ws: Iterable<CachedWheel>): InstallPlan['runtime'] => [...ws].map((w) => ({ filename: w.filename, sha256: w.sha256 })).sort((a, b) => a.filename.localeCompare(b.filename));
  // The test environment is a copy of the installed venv: its plan is what the co-resolution adds to the runtime wheels.
  const installPlan: InstallPlan = {
    source: 'prefetch', runtime: planned(runtimeWheels.values()),
    test: tests ? planned((testWheels ?? []).filter((w) => !runtimeWheels.has(w.filename))) : null, notes: planNotes,
    ...(buildRequires?.length ? { build: { requires: buildRequires, wheels: planned(buildWheels.values()) } } : {}),
  };
  return { ...summary, installPlan };
}
