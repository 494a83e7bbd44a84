/**
 * One leased job on the slave: fetch the distribution (from the index, or the user's upload from the
 * master) — or, for a git commit, fetch its archive and build its sdist offline in the sandbox
 * (git-source/git-job.ts) — prefetch its dependencies and build requirements, audit it on the
 * requested backend, and hand back what goes into the outbox. Package failures are in the report (a
 * commit whose sdist does not build too: `build-fail`); a problem with the input itself (unknown
 * project, hash mismatch, malformed or hostile archive) ends the job with `retry: false`;
 * infrastructure trouble with `retry: true`.
 *
 * Security: the distribution's file name (from the index or the user) becomes a path only after
 * `safeDistFilename`; its bytes are checked against the published or uploaded sha256 before use, then
 * validated by `validateDist` before anything reads it further; everything lives in the job's own
 * directory, which the caller removes.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { auditDistribution, type AuditOptions, type AuditProgress } from '../audit.js';
import type { Backend } from '../backends/backend.js';
import type { CommandClient } from '../command/command-client.js';
import { type JobOutcome, type JobPhase, type JobProgressEvent, type LeasedJob, safeDistFilename, type IndexClient, validateDist, type ValidatedDist, type ReportSource } from '@pyti/common';
import { sdistFromCommit } from '../git-source/git-job.js';
import { attachSource } from '../git-source/source-report.js';
import type { GuestTags } from '../prefetch/guest-tags.js';
import { prefetchDependencies } from '../prefetch/prefetch.js';
import type { WheelCache } from '../prefetch/wheel-cache.js';
import type { OutboxEntry } from './outbox.js';

/** Everything a job needs from the daemon. */
export interface JobContext {
  job: LeasedJob;
  /** A fresh directory for this job (removed by the caller). */
  jobDir: string;
  client: CommandClient;
  index: IndexClient;
  cache: WheelCache;
  rootfs: string;
  tags: GuestTags;
  backend: Backend;
  /** Aborted when the job is cancelled or its lease is lost. */
  signal: AbortSignal;
  progress: (e: JobProgressEvent) => void;
  log: (line: string) => void;
  audit?: Pick<AuditOptions, 'parallel' | 'limits' | 'sessionLimits' | 'perf'>;
}

/** What the job produced: an outbox outcome and, for a report, the directory holding it. */
export interface JobResult {
  outcome: OutboxEntry['outcome'];
  reportDir?: string;
}

/** Codes that are a verdict on the input: the job ends at once, without another attempt. */
/** (PYTI_INDEX_HOST_REFUSED: the index sends every slave to the same refused host; another attempt would too.) */
const INPUT_CODES = new Set(['PYTI_INDEX_NOT_FOUND', 'PYTI_INDEX_HASH_MISMATCH', 'PYTI_INDEX_MISMATCH', 'PYTI_INDEX_HOST_REFUSED']);

const normName = (n: string): string => n.toLowerCase().replace(/[-_.]+/g, '-');
/** A version for comparison: case, a leading `v` and trailing `.0` release parts do not matter (1.0 = 1.0.0 = V1). */
const normVersion = (v: string): string => v.trim().toLowerCase().replace(/^v/, '').replace(/^(\d+(?:\.\d+)*?)(?:\.0+)+(?=$|[^.\d])/, '$1');

/**
 * Checks that the distribution an index served for `project==version` says it is that project and
 * version (its own metadata, read by validateDist): an index (or a compromised mirror) must not slip
 * another package under the name that was asked for.
 */
export function checkServedDist(source: { project: string; version: string }, dist: { name: string; version: string; filename: string }): void {
  if (normName(dist.name) !== normName(source.project) || normVersion(dist.version) !== normVersion(source.version)) {
    throw new PytiError('PYTI_INDEX_MISMATCH', `asked the index for ${source.project}==${source.version} but ${dist.filename} is ${dist.name} ${dist.version}`);
  }
}

/** The outcome for a job that failed with `err` before it had a report. */
export function errorOutcome(err: unknown): Extract<JobOutcome, { kind: 'error' }> {
  if (err instanceof PytiError) {
    const retry = !(err.code.startsWith('PYTI_INPUT_') || INPUT_CODES.has(err.code));
    return { kind: 'error', code: err.code, message: err.message.slice(0, 4000), retry };
  }
  return { kind: 'error', code: 'PYTI_SLAVE_FAILED', message: `the slave failed: ${String((err as Error)?.message ?? err).slice(0, 4000)}`, retry: true };
}

/** Fetches the job's distribution (an index or upload source) into `dir`; resolves to its path. */
async function fetchDist(ctx: JobContext, dir: string): Promise<string> {
  const s = ctx.job.source;
  if (s.kind === 'git') throw new Error('a git source has no distribution to fetch');
  if (s.kind === 'index') {
    const file = await ctx.index.resolve(s.project, s.version, s.filename, { signal: ctx.signal });
    ctx.log(`job ${ctx.job.jobId} ${file.filename} from ${file.url}`);
    const dest = join(dir, file.filename);
    await ctx.index.download(file, dest, { signal: ctx.signal });
    return dest;
  }
  if (!safeDistFilename(s.filename)) throw new PytiError('PYTI_INPUT_NOT_ARCHIVE', `${JSON.stringify(String(s.filename).slice(0, 100))} is not a distribution file name`);
  const dest = join(dir, s.filename);
  await ctx.client.getBlob(s.sha256, dest, { signal: ctx.signal, maxBytes: s.sizeBytes });
  return dest;
}

/** Runs the job; resolves to its result, or rejects with the abort reason when the job was stopped. */
export async function runJob(ctx: JobContext): Promise<JobResult> {
  const at = Date.now;
  const phase = (p: JobPhase): void => {
    ctx.log(`job ${ctx.job.jobId} ${p}`);
    ctx.progress({ at: at(), kind: 'phase', phase: p });
  };
  const note = (text: string): void => ctx.progress({ at: at(), kind: 'log', text });
  try {
    const inputDir = join(ctx.jobDir, 'input');
    const wheelhouse = join(ctx.jobDir, 'wheelhouse');
    const outDir = join(ctx.jobDir, 'report');
    mkdirSync(inputDir, { recursive: true });
    mkdirSync(wheelhouse, { recursive: true });

    const source = ctx.job.source;
    let dist: ValidatedDist;
    let git: { source: ReportSource; buildLog: string } | null = null;
    if (source.kind === 'git') {
      const built = await sdistFromCommit({
        client: ctx.client, cache: ctx.cache, rootfs: ctx.rootfs, tags: ctx.tags, simpleUrl: ctx.index.simpleUrl, signal: ctx.signal, phase, note,
      }, source, ctx.jobDir, outDir);
      if (built.kind === 'build-failed') {
        phase('uploading');
        return { outcome: { kind: 'report', prefetch: built.prefetch }, reportDir: outDir };
      }
      ({ dist } = built);
      git = { source: built.source, buildLog: built.buildLog };
    } else {
      phase('downloading');
      dist = await validateDist(await fetchDist(ctx, inputDir));
      if (source.kind === 'index') checkServedDist(source, dist);
    }
    const distPath = dist.path;
    note(`${dist.filename}: ${dist.kind} of ${dist.name} ${dist.version}, sha256 ${dist.sha256}`);

    phase('prefetching');
    const { installPlan, ...prefetch } = await prefetchDependencies({
      dist, wheelhouse, cache: ctx.cache, rootfs: ctx.rootfs, tags: ctx.tags, simpleUrl: ctx.index.simpleUrl, signal: ctx.signal, onLog: note,
    });
    ctx.signal.throwIfAborted();

    phase('auditing');
    const onProgress = (p: AuditProgress): void => {
      if (p.kind === 'task-started') ctx.progress({ at: at(), kind: 'task-started', task: p.id });
      else if (p.kind === 'task-finished') ctx.progress({ at: at(), kind: 'task-finished', task: p.id, status: p.status, durationMs: p.durationMs });
      else if (p.kind === 'guest-ready') note(`guest ready: Python ${p.python}`);
      else if (p.kind === 'retrying') note(`infrastructure failure, ${p.infraError.kind}: ${p.infraError.message.split('\n')[0]}; retrying on a fresh sandbox (attempt ${p.attempt + 1})`);
      if (p.kind === 'task-started' || p.kind === 'task-finished') ctx.log(`job ${ctx.job.jobId} ${p.id} ${p.kind === 'task-started' ? 'started' : p.status}`);
    };
    const outcome = await auditDistribution({
      ...ctx.audit, distPath, wheelhouse, outDir, backend: ctx.backend, rootfs: ctx.rootfs, onProgress, signal: ctx.signal,
      testRequirements: prefetch.testRequirements, installPlan,
    });
    if (git) attachSource(outDir, git.source, git.buildLog);
    note(`audited: ${outcome.report.result} (${outcome.report.verdict})`);
    phase('uploading');
    return { outcome: { kind: 'report', prefetch }, reportDir: outDir };
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const outcome = errorOutcome(err);
    ctx.log(`job ${ctx.job.jobId} failed: ${outcome.code}: ${outcome.message.split('\n')[0]}${outcome.retry ? ' (to be retried)' : ''}`);
    return { outcome };
  }
}
