/**
 * The master's retention policy (what `pyti master gc` and the periodic gc may delete), read once at
 * start from flags over environment and frozen with the rest of the master's configuration:
 *
 *   --retention-max-age DUR    (PYTI_RETENTION_MAX_AGE)    raw data and archives of audits finished longer ago go
 *   --retention-max-bytes SIZE (PYTI_RETENTION_MAX_BYTES)  beyond this total, the least recently used go first
 *   --gc-grace DUR             (PYTI_GC_GRACE)             a blob written or re-used this recently is never deleted (default 1h, at least 1m)
 *   --gc-interval DUR          (PYTI_GC_INTERVAL)          a running master collects this often (default: off)
 *   --retention-prune-flagged  (PYTI_RETENTION_PRUNE_FLAGGED=1)  also prune the data of audits judged malicious or
 *                              suspicious (kept by default: the evidence of their verdicts)
 *
 * Without an age or size limit, gc deletes only garbage: blobs nothing references (results whose
 * `jobs.complete` never came) and temp files of dead writes, once older than the grace period.
 */
import { PytiError } from '@pyti/vm-agent';
import { formatBytes, formatDuration, parseByteSize, parseDuration } from '@pyti/common';

export interface RetentionConfig {
  /** Raw data and archives of audits that finished longer ago than this may be deleted; null: no age limit. */
  readonly maxAgeMs: number | null;
  /** Above this many bytes of blobs, the least recently used unprotected ones are deleted; null: no size limit. */
  readonly maxTotalBytes: number | null;
  /** A blob whose file was written or re-used less than this long ago is never deleted (writes in flight). */
  readonly graceMs: number;
  /** Between two collections in a running master; 0: none (run `pyti master gc`). */
  readonly gcIntervalMs: number;
  /** Also prune what audits judged malicious or suspicious name (by default it is kept, whatever its age). */
  readonly pruneFlagged: boolean;
}

/** Flags as `pyti master` and `pyti master gc` parse them (strings as given). */
export interface RetentionFlags {
  retentionMaxAge?: string;
  retentionMaxBytes?: string;
  gcGrace?: string;
  gcInterval?: string;
  retentionPruneFlagged?: boolean;
}

export const RETENTION_DEFAULTS = { graceMs: 3_600_000, minGraceMs: 60_000, minIntervalMs: 60_000 } as const;

function invalid(what: string, why: string): never {
  throw new PytiError('PYTI_CONFIG_INVALID', `${what}: ${why}`);
}

function pick(flag: string | undefined, env: string | undefined, flagName: string, envName: string): { text: string; what: string } | null {
  if (flag !== undefined) return { text: flag, what: flagName };
  if (env !== undefined && env !== '') return { text: env, what: envName };
  return null;
}

function duration(v: { text: string; what: string }, min: number): number {
  const ms = parseDuration(v.text);
  if (ms === null) invalid(v.what, `${JSON.stringify(v.text.slice(0, 40))} is not a duration (a number and a unit: 90s, 30m, 6h, 30d, 2w)`);
  if (ms < min) invalid(v.what, `${formatDuration(ms)} is below the minimum ${formatDuration(min)}`);
  return ms;
}

/** Reads and validates the retention settings; throws PYTI_CONFIG_INVALID naming the flag or variable. */
export function loadRetentionConfig(flags: RetentionFlags, env: Record<string, string | undefined>): RetentionConfig {
  const age = pick(flags.retentionMaxAge, env.PYTI_RETENTION_MAX_AGE, '--retention-max-age', 'PYTI_RETENTION_MAX_AGE');
  const size = pick(flags.retentionMaxBytes, env.PYTI_RETENTION_MAX_BYTES, '--retention-max-bytes', 'PYTI_RETENTION_MAX_BYTES');
  const grace = pick(flags.gcGrace, env.PYTI_GC_GRACE, '--gc-grace', 'PYTI_GC_GRACE');
  const interval = pick(flags.gcInterval, env.PYTI_GC_INTERVAL, '--gc-interval', 'PYTI_GC_INTERVAL');
  const graceMs = grace ? duration(grace, RETENTION_DEFAULTS.minGraceMs) : RETENTION_DEFAULTS.graceMs;
  const maxAgeMs = age ? duration(age, 1) : null;
  if (maxAgeMs !== null && maxAgeMs < graceMs) invalid(age!.what, `${formatDuration(maxAgeMs)} is shorter than the gc grace period (${formatDuration(graceMs)})`);
  let maxTotalBytes: number | null = null;
  if (size) {
    maxTotalBytes = parseByteSize(size.text);
    if (maxTotalBytes === null) invalid(size.what, `${JSON.stringify(size.text.slice(0, 40))} is not a size (bytes, or with a unit: 500M, 50G, 1T)`);
    if (maxTotalBytes < 1024 * 1024) invalid(size.what, `${formatBytes(maxTotalBytes)} is below 1 MiB`);
  }
  let gcIntervalMs = 0;
  if (interval && !['0', 'off'].includes(interval.text.trim())) gcIntervalMs = duration(interval, RETENTION_DEFAULTS.minIntervalMs);
  const envFlagged = env.PYTI_RETENTION_PRUNE_FLAGGED;
  if (envFlagged !== undefined && envFlagged !== '' && !['0', '1'].includes(envFlagged)) invalid('PYTI_RETENTION_PRUNE_FLAGGED', 'must be 1 or 0');
  const pruneFlagged = flags.retentionPruneFlagged ?? envFlagged === '1';
  return Object.freeze({ maxAgeMs, maxTotalBytes, graceMs, gcIntervalMs, pruneFlagged });
}

/** The policy in one line (`max age 30d, max size 50.0 GiB, grace 1h, every 6h`). */
export function describeRetention(r: RetentionConfig): string {
  return [
    r.maxAgeMs === null ? 'no age limit' : `max age ${formatDuration(r.maxAgeMs)}`,
    r.maxTotalBytes === null ? 'no size limit' : `max size ${formatBytes(r.maxTotalBytes)}`,
    `grace ${formatDuration(r.graceMs)}`,
    r.gcIntervalMs ? `gc every ${formatDuration(r.gcIntervalMs)}` : 'no periodic gc',
    r.pruneFlagged ? 'flagged audits pruned too' : 'flagged audits kept',
  ].join(', ');
}
