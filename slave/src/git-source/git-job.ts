/**
 * The first half of a git job on the slave: from the leased commit to an sdist the audit can take like
 * an upload, or to a `build-fail` report.
 *
 * 1. downloading: the commit's archive from the master (source-archive.ts: hash and contents checked);
 * 2. building: its build requirements (`[build-system].requires` of its pyproject.toml, read without
 *    running anything; PEP 518's default otherwise) screened and prefetched with the guest's pip into
 *    the shared wheel cache, exactly as for an sdist; then the sdist built offline in the sandbox
 *    (sdist-build.ts) and checked by validateDist.
 *
 * A build that fails, or an sdist that validateDist refuses, is the package's failure: the report
 * says `build-fail…` with the build's log. Problems with the archive itself end the job (PYTI_INPUT_*).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import type { CommandClient } from '../command/command-client.js';
import { type JobPhase, type PrefetchSummary, validateDist, type ValidatedDist, type AuditReport, type ReportSource } from '@pyti/common';
import type { GuestTags } from '../prefetch/guest-tags.js';
import { prefetchRequirementGroups } from '../prefetch/prefetch.js';
import { screenRequirements } from '../prefetch/requirements.js';
import { sdistRequirements } from '../prefetch/sdist-requirements.js';
import type { WheelCache } from '../prefetch/wheel-cache.js';
import { buildSdist, type SdistBuildFailure } from './sdist-build.js';
import { fetchSourceArchive, type GitJobSource } from './source-archive.js';
import { reportSource, writeBuildFailReport } from './source-report.js';

/** What the first half needs from the job. */
export interface GitJobContext {
  client: Pick<CommandClient, 'getBlob'>;
  cache: WheelCache;
  rootfs: string;
  tags: GuestTags;
  /** pip's `--index-url`. */
  simpleUrl: string;
  signal: AbortSignal;
  phase(p: JobPhase): void;
  /** A line of progress. */
  note(text: string): void;
  /** Per sandbox run of the build (default 10 min). */
  buildTimeoutMs?: number;
}

/** The sdist was built: audit it, then add `source` and the build log to its report. */
export interface GitSdist {
  kind: 'sdist';
  dist: ValidatedDist;
  source: ReportSource;
  buildLog: string;
}

/** The build failed: the report is written; `prefetch` summarizes the build requirements. */
export interface GitBuildFailed {
  kind: 'build-failed';
  report: AuditReport;
  prefetch: PrefetchSummary;
}

/** Runs the first half of the git job `s` in the job directory `jobDir`; a failed build writes its report into `outDir`. */
export async function sdistFromCommit(ctx: GitJobContext, s: GitJobSource, jobDir: string, outDir: string): Promise<GitSdist | GitBuildFailed> {
  const startedAt = new Date();
  ctx.phase('downloading');
  const archive = await fetchSourceArchive(ctx.client, s, join(jobDir, 'git'), ctx.signal);
  ctx.note(`commit ${s.commit} of ${s.repo} (${s.branch}): archive of ${archive.members} members, sha256 ${archive.sha256}`);

  ctx.phase('building');
  const t0 = Date.now();
  const sr = await sdistRequirements(archive.path, ctx.rootfs, ctx.signal);
  for (const n of sr.notes) ctx.note(n);
  const screened = screenRequirements(sr.build);
  const problems = [...sr.problems, ...screened.refused.map((r) => `build requirement ${JSON.stringify(r.requirement)} refused: ${r.reason}`)];
  const wheelhouse = join(jobDir, 'build-wheelhouse');
  mkdirSync(wheelhouse, { recursive: true });
  // The install plan is the audit's business; the build of the sdist needs only the wheelhouse.
  const { installPlan: _plan, ...prefetch } = await prefetchRequirementGroups({
    wheelhouse, cache: ctx.cache, rootfs: ctx.rootfs, tags: ctx.tags, simpleUrl: ctx.simpleUrl, signal: ctx.signal, onLog: (l) => ctx.note(l),
  }, [{ what: 'build requirements', reqs: screened.accepted }], problems);
  ctx.signal.throwIfAborted();

  const built = await buildSdist({
    rootfs: ctx.rootfs, archive: archive.path, workDir: join(jobDir, 'sdist-build'), wheelhouse, requirements: screened.accepted,
    timeoutMs: ctx.buildTimeoutMs, signal: ctx.signal,
  });
  ctx.signal.throwIfAborted();
  const failed = (f: SdistBuildFailure): GitBuildFailed => {
    ctx.note(`the sdist did not build: ${f.result}: ${f.reason.split('\n')[0]}`);
    return { kind: 'build-failed', report: writeBuildFailReport(outDir, s, { ...f, durationMs: Date.now() - t0 }, startedAt), prefetch };
  };
  if (!built.ok) return failed(built);
  let dist: ValidatedDist;
  try {
    dist = await validateDist(built.sdist);
  } catch (err) {
    if (!(err instanceof PytiError) || !err.code.startsWith('PYTI_INPUT_')) throw err;
    return failed({ ok: false, result: 'build-fail', reason: `the sdist the build made is not usable: ${err.code}: ${err.message}`, exitCode: 0, log: built.log, durationMs: built.durationMs });
  }
  ctx.note(`built ${dist.filename} (${dist.name} ${dist.version}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { kind: 'sdist', dist, source: reportSource(s, Date.now() - t0, dist.filename), buildLog: built.log };
}
