/**
 * The slave daemon's configuration: flags over environment (`PYTI_MASTER_URL`, `PYTI_SLAVE_TOKEN`,
 * `PYTI_INDEX_URL`, `PYTI_SLAVE_DATA`, `PYTI_WHEEL_CACHE_MAX`, `PYTI_WHEEL_CACHE_MAX_AGE`, `PYTI_VM_POOL`) over defaults, validated once and frozen. Every problem is a
 * `PYTI_CONFIG_INVALID` error naming the flag or variable.
 *
 * Security: the token is never printed (`describeSlaveConfig` leaves it out); URLs must be http(s)
 * without credentials.
 */
import { hostname, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { cacheRoot } from '@pyti/images';
import { normalizeMasterUrl } from '../command/command-client.js';
import { DEFAULT_INDEX_URL, FetchPolicy, formatBytes, formatDuration, normalizeIndexUrl, parseByteSize, parseDuration } from '@pyti/common';
import type { WheelCachePolicy } from '../prefetch/wheel-cache-pruner.js';

/** Backends a slave can be told to offer. */
export const SLAVE_BACKENDS = ['bwrap', 'qemu', 'libvirt'] as const;

export interface SlaveConfig {
  /** The master's base URL. */
  readonly masterUrl: string;
  readonly token: string;
  /** Informational name sent at registration (the token names the slave). */
  readonly name: string;
  readonly backends: readonly string[];
  /** Jobs run at once. */
  readonly concurrency: number;
  /** Package index base URL (`https://pypi.org`). */
  readonly indexUrl: string;
  /** Where index requests, redirects and downloads may go: the index and its files hosts (--files-host), see FetchPolicy. */
  readonly fetchPolicy: FetchPolicy;
  /** Wheel cache, outbox and job directories live here. */
  readonly dataDir: string;
  /** Every job also runs the perf task (its slowest tests timed five times), so the master's history of a project has timings. */
  readonly perf: boolean;
  /** What the wheel cache keeps (pruned at start and between jobs, least recently used first). */
  readonly wheelCache: Readonly<WheelCachePolicy>;
  /** VM backends (qemu, libvirt): guests each keeps restored and waiting for the next jobs (0: none). */
  readonly vmPool: number;
}

/** Flags as `pyti slave` parses them. */
export interface SlaveFlags {
  master?: string;
  token?: string;
  name?: string;
  backend?: string[];
  concurrency?: string | number;
  indexUrl?: string;
  /** Files hosts besides the index (repeatable); default files.pythonhosted.org for pypi.org. */
  filesHost?: string[];
  data?: string;
  perf?: boolean;
  /** `--wheel-cache-max SIZE` (10G; `none`: no limit). */
  wheelCacheMax?: string;
  /** `--wheel-cache-max-age DUR` (30d; default none). */
  wheelCacheMaxAge?: string;
  /** `--vm-pool N`: waiting guests per VM backend (default defaultVmPool). */
  vmPool?: string | number;
}

/** Host memory one waiting guest is budgeted (a restored idle guest measured ~300 MB RSS; room for growth). */
export const POOL_GUEST_BUDGET_BYTES = 512 * 1024 ** 2;

/**
 * The default number of waiting guests per VM backend: one per job slot (so every lease can find one),
 * but no more than a quarter of the host's memory allows at POOL_GUEST_BUDGET_BYTES per guest (the
 * running jobs' guests, up to 1.5 GiB each, need the rest). 0 on a host too small for even one.
 */
export function defaultVmPool(concurrency: number, memBytes = totalmem()): number {
  return Math.max(0, Math.min(concurrency, Math.floor(memBytes / 4 / POOL_GUEST_BUDGET_BYTES)));
}

/** The wheel cache's default size limit. */
export const DEFAULT_WHEEL_CACHE_MAX_BYTES = 10 * 1024 ** 3;

function wheelCachePolicy(flags: SlaveFlags, env: NodeJS.ProcessEnv): WheelCachePolicy {
  const maxText = flags.wheelCacheMax ?? (env.PYTI_WHEEL_CACHE_MAX || undefined);
  const maxWhat = flags.wheelCacheMax !== undefined ? '--wheel-cache-max' : 'PYTI_WHEEL_CACHE_MAX';
  let maxBytes: number | null = DEFAULT_WHEEL_CACHE_MAX_BYTES;
  if (maxText !== undefined) {
    maxBytes = maxText.trim() === 'none' ? null : parseByteSize(maxText);
    if (maxText.trim() !== 'none' && maxBytes === null) invalid(maxWhat, `${JSON.stringify(maxText.slice(0, 40))} is not a size (bytes, or 500M, 10G; none: no limit)`);
    if (maxBytes !== null && maxBytes < 1024 * 1024) invalid(maxWhat, `${formatBytes(maxBytes)} is below 1 MiB`);
  }
  const ageText = flags.wheelCacheMaxAge ?? (env.PYTI_WHEEL_CACHE_MAX_AGE || undefined);
  const ageWhat = flags.wheelCacheMaxAge !== undefined ? '--wheel-cache-max-age' : 'PYTI_WHEEL_CACHE_MAX_AGE';
  let maxAgeMs: number | null = null;
  if (ageText !== undefined && ageText.trim() !== 'none') {
    maxAgeMs = parseDuration(ageText);
    if (maxAgeMs === null) invalid(ageWhat, `${JSON.stringify(ageText.slice(0, 40))} is not a duration (30d, 12h; none: no limit)`);
    if (maxAgeMs < 3_600_000) invalid(ageWhat, `${formatDuration(maxAgeMs)} is below 1h`);
  }
  return Object.freeze({ maxBytes, maxAgeMs });
}

function invalid(what: string, why: string): never {
  throw new PytiError('PYTI_CONFIG_INVALID', `${what}: ${why}`);
}

function wrap<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof PytiError) invalid(what, err.message);
    throw err;
  }
}

/** Builds the configuration from flags and environment; throws PYTI_CONFIG_INVALID. */
export function loadSlaveConfig(flags: SlaveFlags, env: NodeJS.ProcessEnv = process.env): SlaveConfig {
  const master = flags.master ?? env.PYTI_MASTER_URL;
  if (!master) invalid('--master', 'the master URL is required (or PYTI_MASTER_URL)');
  const masterUrl = wrap(flags.master ? '--master' : 'PYTI_MASTER_URL', () => normalizeMasterUrl(master));
  const token = flags.token ?? env.PYTI_SLAVE_TOKEN;
  if (!token) invalid('--token', 'a slave token is required (or PYTI_SLAVE_TOKEN)');
  if (!/^[\x21-\x7e]{8,256}$/.test(token)) invalid(flags.token ? '--token' : 'PYTI_SLAVE_TOKEN', 'must be 8-256 printable characters without spaces');
  const name = flags.name ?? hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) invalid('--name', `${JSON.stringify(name)} must be 1-64 of A-Z a-z 0-9 . _ -`);
  const backends = [...new Set(flags.backend?.length ? flags.backend : ['bwrap'])];
  for (const b of backends) if (!(SLAVE_BACKENDS as readonly string[]).includes(b)) invalid('--backend', `${JSON.stringify(b)} is not one of ${SLAVE_BACKENDS.join(', ')}`);
  const c = flags.concurrency ?? 1;
  const concurrency = typeof c === 'number' ? c : /^\d+$/.test(c.trim()) ? Number(c) : NaN;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64) invalid('--concurrency', `${JSON.stringify(c)} is not a whole number from 1 to 64`);
  const index = flags.indexUrl ?? env.PYTI_INDEX_URL ?? DEFAULT_INDEX_URL;
  const indexUrl = wrap(flags.indexUrl ? '--index-url' : 'PYTI_INDEX_URL', () => normalizeIndexUrl(index));
  const dataDir = resolve(flags.data ?? env.PYTI_SLAVE_DATA ?? join(cacheRoot(env), 'slave'));
  const fetchPolicy = wrap('--files-host', () => FetchPolicy.forIndex(indexUrl, { filesHosts: flags.filesHost?.length ? flags.filesHost : undefined }));
  const wheelCache = wheelCachePolicy(flags, env);
  const p = flags.vmPool ?? env.PYTI_VM_POOL;
  const vmPool = p === undefined || p === '' ? defaultVmPool(concurrency) : typeof p === 'number' ? p : /^\d+$/.test(p.trim()) ? Number(p) : NaN;
  if (!Number.isSafeInteger(vmPool) || vmPool < 0 || vmPool > 16) invalid(flags.vmPool !== undefined ? '--vm-pool' : 'PYTI_VM_POOL', `${JSON.stringify(p)} is not a whole number from 0 to 16`);
  return Object.freeze({ masterUrl, token, name, backends: Object.freeze(backends), concurrency, indexUrl, fetchPolicy, dataDir, perf: flags.perf ?? false, wheelCache, vmPool });
}

/** The configuration for a log line, without the token. */
export function describeSlaveConfig(c: SlaveConfig): string {
  const w = c.wheelCache;
  const cache = `wheel cache ${w.maxBytes === null ? 'no size limit' : `max ${formatBytes(w.maxBytes)}`}${w.maxAgeMs === null ? '' : `, max age ${formatDuration(w.maxAgeMs)}`}`;
  return `master ${c.masterUrl}, index ${c.indexUrl}${c.fetchPolicy.origins.length > 1 ? ` (files from ${c.fetchPolicy.origins.slice(1).join(', ')})` : ''}, backends ${c.backends.join(',')}, concurrency ${c.concurrency}, data ${c.dataDir}, ${cache}${c.perf ? ', perf task on' : ''}${c.backends.some((b) => b !== 'bwrap') ? `, VM pool ${c.vmPool}` : ''}`;
}
