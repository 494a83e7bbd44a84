/**
 * Prefetching a job's dependencies: the runtime requirements of the distribution (its Requires-Dist)
 * and, for an sdist, its build requirements, each resolved and downloaded by the guest's own pip
 * (pip-download.ts) through the shared wheel cache (wheel-cache.ts); the job's wheelhouse then holds
 * hard links to exactly the wheels pip resolved.
 *
 * The two sets are resolved separately (a project may pin a setuptools for building that its runtime
 * requirements would conflict with). A failure to resolve is data (`PrefetchSummary.error`): the audit
 * still runs and its install then fails as `install-fail:deps` naming what is missing.
 */
import type { PrefetchSummary } from '../command/command-protocol.js';
import type { ValidatedDist } from '../input/validate-dist.js';
import { sdistRequirements } from './sdist-requirements.js';
import type { GuestTags } from './guest-tags.js';
import { pipDownload } from './pip-download.js';
import { screenRequirements } from './requirements.js';
import type { CachedWheel, WheelCache } from './wheel-cache.js';

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
export async function prefetchDependencies(o: PrefetchOptions): Promise<PrefetchSummary> {
  const t0 = Date.now();
  const log = o.onLog ?? (() => undefined);
  const errors: string[] = [];
  const groups: RequirementGroup[] = [];
  let runtimeReqs = o.dist.requiresDist;
  let buildReqs: string[] = [];
  if (o.dist.kind === 'sdist') {
    const sr = await sdistRequirements(o.dist.path, o.rootfs, o.signal);
    for (const n of sr.notes) log(n);
    // Metadata before 2.2 need not list Requires-Dist in an sdist's PKG-INFO: fall back to the static sources.
    if (!runtimeReqs.length && sr.runtime) runtimeReqs = sr.runtime;
    buildReqs = sr.build;
    errors.push(...sr.problems);
  }
  const runtime = screenRequirements(runtimeReqs);
  const build = screenRequirements(buildReqs);
  groups.push({ what: 'dependencies', reqs: runtime.accepted }, { what: 'build requirements', reqs: build.accepted });
  for (const r of build.refused) errors.push(`build requirement ${JSON.stringify(r.requirement)} refused: ${r.reason}`);
  for (const r of runtime.refused) errors.push(`requirement ${JSON.stringify(r.requirement)} refused: ${r.reason}`);

  return prefetchRequirementGroups(o, groups, errors, t0);
}

/** A set of screened requirements resolved together, named for the log and the summary (`build requirements`). */
export interface RequirementGroup {
  what: string;
  reqs: string[];
}

/**
 * Resolves and downloads each group with the guest's pip through the wheel cache, links the wheels
 * into `o.wheelhouse` and summarizes; `errors` (problems found before, e.g. refused requirements) go
 * into the summary with pip's own failures.
 */
export async function prefetchRequirementGroups(o: Omit<PrefetchOptions, 'dist'>, groups: RequirementGroup[], errors: string[] = [], t0 = Date.now()): Promise<PrefetchSummary> {
  const log = o.onLog ?? (() => undefined);
  const wheels = new Map<string, CachedWheel>();
  for (const g of groups) {
    if (!g.reqs.length) continue;
    log(`resolving ${g.what}: ${g.reqs.join(', ')}`);
    const dir = o.cache.stage();
    try {
      const r = await pipDownload({ rootfs: o.rootfs, tags: o.tags, simpleUrl: o.simpleUrl, downloadDir: dir, requirements: g.reqs, timeoutMs: o.timeoutMs, signal: o.signal });
      if (!r.ok) errors.push(`${g.what}: ${r.error}`);
      for (const w of await o.cache.commit(dir, r.files)) if (!wheels.has(w.filename)) wheels.set(w.filename, w);
    } finally {
      o.cache.unstage(dir);
    }
  }
  const list = [...wheels.values()];
  o.cache.linkInto(list, o.wheelhouse);
  const summary: PrefetchSummary = {
    wheels: list.map((w) => w.filename).sort(),
    downloaded: list.filter((w) => !w.cached).length,
    durationMs: Date.now() - t0,
  };
  if (errors.length) summary.error = errors.join('\n').slice(0, 8000);
  log(`${summary.wheels.length} wheels (${summary.downloaded} downloaded)${summary.error ? `; ${summary.error.split('\n')[0]}` : ''}`);
  return summary;
}
