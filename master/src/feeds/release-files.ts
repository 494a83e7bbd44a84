/**
 * A release's files from the JSON API (`/pypi/<name>/<version>/json`), checked against the change-log
 * event that announced them, and the choice of which files to audit.
 *
 * The document is validated by the slave's `releaseFiles` (file names, http(s) URLs, sha256 digests;
 * `PYTI_INDEX_MALFORMED` otherwise); this module adds the fields subscriptions need (`requires_python`,
 * `yanked`, `yanked_reason`) and the freshness check: PyPI's answers are cached, so one may predate the
 * event (`X-PyPI-Last-Serial` lower than the event's serial). Such an answer is retried with backoff,
 * then refused with `PYTI_FEED_STALE`. A release removed meanwhile is `PYTI_INDEX_NOT_FOUND` (404).
 */
import { PytiError } from '@pyti/vm-agent';
import { backoffDelay, type FetchPolicy, indexGet, isPureWheel, normalizeIndexUrl, releaseFiles, releaseJsonUrl, sleep as defaultSleep, type RetryPolicy } from '@pyti/common';
import type { ReleaseFile, ReleaseFiles } from './feed-types.js';
import { readCappedText } from './http-body.js';
import { normalizeName } from './pep.js';

export interface ResolveReleaseOptions {
  /** Where the JSON API and its redirects may go (default: the index's origin). */
  policy?: FetchPolicy;
  /** The event's serial: an answer whose `X-PyPI-Last-Serial` is lower is stale. */
  minSerial?: number;
  /** Retries of a stale answer. Default 4. */
  retries?: number;
  /** Backoff between stale retries. Default 1 s doubling to 15 s, with jitter. */
  backoff?: Pick<RetryPolicy, 'initialMs' | 'maxMs' | 'factor'>;
  /** Retry a 404 too (a cache that does not know the release yet). Default: when `minSerial` is given. */
  retryNotFound?: boolean;
  /** Per request. Default 30 s. */
  timeoutMs?: number;
  /** Largest document. Default 16 MiB. */
  maxBytes?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  signal?: AbortSignal;
}

function malformed(url: string, why: string): PytiError {
  return new PytiError('PYTI_INDEX_MALFORMED', `${url}: ${why}`);
}

/** `X-PyPI-Last-Serial` as a number, or null when absent; a present but invalid header is malformed. */
function lastSerialOf(res: Response, url: string): number | null {
  const h = res.headers.get('x-pypi-last-serial');
  if (h === null) return null;
  if (!/^\d{1,15}$/.test(h.trim())) throw malformed(url, `X-PyPI-Last-Serial ${JSON.stringify(h.slice(0, 30))} is not a serial`);
  return Number(h.trim());
}

/** The extra per-file fields, read from the raw `urls` entry the slave's validation accepted. */
function extras(doc: Record<string, unknown>, url: string): Map<string, Pick<ReleaseFile, 'requiresPython' | 'yanked' | 'yankedReason' | 'uploadTime'>> {
  const info = (typeof doc['info'] === 'object' && doc['info'] !== null ? doc['info'] : {}) as Record<string, unknown>;
  const out = new Map<string, Pick<ReleaseFile, 'requiresPython' | 'yanked' | 'yankedReason' | 'uploadTime'>>();
  for (const e of doc['urls'] as Record<string, unknown>[]) {
    const rp = e['requires_python'] ?? null;
    const yanked = e['yanked'] ?? info['yanked'] ?? false;
    const reason = e['yanked_reason'] ?? info['yanked_reason'] ?? null;
    if (rp !== null && (typeof rp !== 'string' || rp.length > 1000)) throw malformed(url, `${String(e['filename'])}: requires_python is not a string`);
    if (typeof yanked !== 'boolean') throw malformed(url, `${String(e['filename'])}: yanked is not a boolean`);
    if (reason !== null && typeof reason !== 'string') throw malformed(url, `${String(e['filename'])}: yanked_reason is not a string`);
    // The upload time feeds the upload-to-verdict latency only: an absent or unreadable one is null, not an error.
    const up = e['upload_time_iso_8601'] ?? e['upload_time'] ?? null;
    const t = typeof up === 'string' && up.length <= 64 ? Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(up) ? up : `${up}Z`) : NaN;
    out.set(e['filename'] as string, { requiresPython: rp, yanked, yankedReason: reason === null ? null : reason.slice(0, 1000), uploadTime: Number.isFinite(t) ? t : null });
  }
  return out;
}

/** Pure: a release's files from a JSON API document (`docUrl` resolves relative file URLs). */
export function parseReleaseDocument(doc: unknown, docUrl: string, name: string, version: string, lastSerial: number | null): ReleaseFiles {
  const files = releaseFiles(doc, docUrl);
  const more = extras(doc as Record<string, unknown>, docUrl);
  const info = (doc as { info?: { name?: unknown } }).info;
  if (info && typeof info.name === 'string' && normalizeName(info.name) !== normalizeName(name)) {
    throw new PytiError('PYTI_INDEX_MISMATCH', `${docUrl}: the document is for ${JSON.stringify(info.name.slice(0, 100))}, not ${name}`);
  }
  return {
    name,
    normalized: normalizeName(name),
    version,
    lastSerial,
    files: files.map((f) => ({ filename: f.filename, url: f.url, sha256: f.sha256, packagetype: f.packagetype ?? (f.filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist'), sizeBytes: f.size ?? null, ...more.get(f.filename)! })),
  };
}

/**
 * Reads `<indexUrl>/pypi/<name>/<version>/json`. With `minSerial`, an answer whose
 * `X-PyPI-Last-Serial` is lower is retried (`retries` times, with backoff), then `PYTI_FEED_STALE`;
 * an answer without the header is taken as is (mirrors may not send it). 404 → `PYTI_INDEX_NOT_FOUND`
 * (the release was removed meanwhile), after the same retries when `minSerial` is given.
 */
export async function resolveReleaseFiles(indexUrl: string, name: string, version: string, opts: ResolveReleaseOptions = {}): Promise<ReleaseFiles> {
  const url = releaseJsonUrl(normalizeIndexUrl(indexUrl), name, version);
  const retries = opts.retries ?? 4;
  const policy: RetryPolicy = { initialMs: 1000, maxMs: 15_000, factor: 2, ...opts.backoff, deadlineMs: Number.MAX_SAFE_INTEGER };
  const pause = opts.sleep ?? defaultSleep;
  const retryNotFound = opts.retryNotFound ?? opts.minSerial !== undefined;
  let serial: number | null = null;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await pause(backoffDelay(attempt, policy, opts.random), opts.signal);
    let res: Response;
    try {
      res = await indexGet(url, `${name} ${version}`, { timeoutMs: opts.timeoutMs, signal: opts.signal, policy: opts.policy });
    } catch (err) {
      // A stale cache may not know a release the change log just announced: with a serial to meet,
      // a 404 is retried like a stale answer; it stands once the retries are spent.
      if (err instanceof PytiError && err.code === 'PYTI_INDEX_NOT_FOUND' && retryNotFound && attempt < retries) continue;
      throw err;
    }
    serial = lastSerialOf(res, url);
    if (opts.minSerial !== undefined && serial !== null && serial < opts.minSerial) {
      await res.body?.cancel().catch(() => undefined);
      continue;
    }
    const text = await readCappedText(res, opts.maxBytes ?? 16 * 1024 * 1024, url, 'PYTI_INDEX_MALFORMED');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw malformed(url, 'not JSON');
    }
    return parseReleaseDocument(doc, url, name, version, serial);
  }
  throw new PytiError('PYTI_FEED_STALE', `${url}: X-PyPI-Last-Serial ${serial} is still older than the event's serial ${opts.minSerial} after ${retries} retries`);
}

/** Which files of a release to audit. */
export interface AuditPolicy {
  /** The sdist (`.tar.gz`). Default true. */
  sdist?: boolean;
  /** One pure-Python wheel (`py3-none-any`, `py2.py3-none-any`). Default true. */
  pureWheel?: boolean;
  /** Also yanked files. Default false. */
  includeYanked?: boolean;
}

/** The files to audit: the sdist and one pure-Python wheel (per `policy`), yanked files left out unless asked. */
export function selectFilesToAudit(files: readonly ReleaseFile[], policy: AuditPolicy = { sdist: true, pureWheel: true }): ReleaseFile[] {
  const usable = files.filter((f) => policy.includeYanked || !f.yanked);
  const out: ReleaseFile[] = [];
  if (policy.sdist ?? true) {
    // A .tar.gz sdist, else a legacy .zip one (old releases have only those).
    const sdist = usable.find((f) => f.packagetype === 'sdist' && f.filename.endsWith('.tar.gz'))
      ?? usable.find((f) => f.packagetype === 'sdist' && f.filename.endsWith('.zip'));
    if (sdist) out.push(sdist);
  }
  if (policy.pureWheel ?? true) {
    const pure = usable.filter((f) => f.filename.endsWith('.whl') && isPureWheel(f.filename));
    const wheel = pure.find((f) => /-py3-none-any\.whl$/.test(f.filename)) ?? pure[0];
    if (wheel) out.push(wheel);
  }
  return out;
}
