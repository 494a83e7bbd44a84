/**
 * What `pyti audit` was asked to audit — a project by name (`NAME`, `NAME==VERSION`), the URL of a
 * distribution file, or a local file — and getting that distribution onto this machine: resolved on
 * the package index, downloaded into the per-user download cache with its sha256 checked, reused by
 * sha256 on later runs.
 *
 * Download cache: `<cacheRoot>/downloads/<sha256>/<filename>`. A cached file is hashed again before
 * it is reused; one that no longer matches is replaced. (Not read-only: reports copy the
 * distribution beside them, and a read-only copy could not be overwritten by the next audit.)
 *
 * Security: the index and the URL's server are untrusted (IndexClient caps and checks their
 * answers); a file name becomes a path only after `safeDistFilename`; a URL must be http or https
 * and carry no credentials (the URL goes into progress lines and the report). A URL's file is
 * checked against its `#sha256=` fragment, else against the hash the index publishes for that file
 * name; when neither exists it is audited unverified and the report's `distribution.origin` says so.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { safeDistFilename, type IndexClient, type ResolvedFile, type IndexFile, PROJECT_NAME, VERSION_TEXT, type DistributionOrigin } from '@pyti/common';

/** One parsed `pyti audit` argument. */
export type AuditTarget =
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string; filename: string; sha256?: string }
  | { kind: 'name'; project: string; version?: string };

class UsageError extends PytiError {
  constructor(message: string) {
    super('PYTI_USAGE', message);
  }
}

const isRegularFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/**
 * Reads the argument: an `http(s)://` URL; an existing file, or anything that looks like a path
 * (has a `/`, or a distribution's extension); else `NAME` or `NAME==VERSION` (PEP 508 name, PEP 440
 * version text; spaces around `==` allowed). Other specifiers, extras and markers are usage errors.
 */
export function parseAuditTarget(arg: string, fileExists: (p: string) => boolean = isRegularFile): AuditTarget {
  if (/^https?:\/\//i.test(arg)) {
    let u: URL;
    try {
      u = new URL(arg);
    } catch {
      throw new UsageError(`${JSON.stringify(arg.slice(0, 200))} is not a URL`);
    }
    if (u.username || u.password) throw new UsageError('a distribution URL must not carry credentials (they would end up in the progress and the report)');
    let filename: string;
    try {
      filename = decodeURIComponent(u.pathname.slice(u.pathname.lastIndexOf('/') + 1));
    } catch {
      filename = '';
    }
    if (!safeDistFilename(filename)) {
      throw new PytiError('PYTI_INPUT_NOT_ARCHIVE', `${u.origin}${u.pathname}: the URL does not end in a distribution file name (.tar.gz, .zip or .whl)`);
    }
    let sha256: string | undefined;
    const frag = /^#sha256=([0-9a-fA-F]{64})$/.exec(u.hash);
    if (frag) sha256 = frag[1]!.toLowerCase();
    else if (/^#sha256=/i.test(u.hash)) throw new UsageError(`the URL's #sha256= fragment is not 64 hex digits`);
    u.hash = '';
    return sha256 ? { kind: 'url', url: u.toString(), filename, sha256 } : { kind: 'url', url: u.toString(), filename };
  }
  if (fileExists(arg) || arg.includes('/') || /\.(tar\.gz|tgz|zip|whl|tar\.bz2|egg)$/i.test(arg)) return { kind: 'file', path: arg };
  const m = /^\s*([^\s=<>!~;[\]]+)\s*(?:==\s*([^\s=<>!~;[\]]+)\s*)?$/.exec(arg);
  if (m && PROJECT_NAME.test(m[1]!) && m[1]!.length <= 200) {
    const version = m[2];
    if (version === undefined) return { kind: 'name', project: m[1]! };
    if (VERSION_TEXT.test(version) && !version.includes('*')) return { kind: 'name', project: m[1]!, version };
    throw new UsageError(`${JSON.stringify(version)} is not a version (pyti audit NAME==VERSION)`);
  }
  throw new UsageError(`${JSON.stringify(arg.slice(0, 200))} is not a distribution file, a URL, NAME or NAME==VERSION (other specifiers, extras and markers are not taken)`);
}

/** A distribution on this machine, ready to audit. */
export interface FetchedTarget {
  path: string;
  origin: DistributionOrigin;
  /** What the distribution must say it is (its own metadata), when the index named it: see checkServedDist. */
  expect?: { project: string; version: string };
}

export interface FetchTargetOptions {
  /** The index: resolves names, and publishes the hashes URLs are checked against. */
  client: IndexClient;
  /** `<cacheRoot>/downloads`. */
  downloadsDir: string;
  /** One progress line. */
  say: (line: string) => void;
  signal?: AbortSignal;
  /** Clock for the download progress lines (tests). */
  now?: () => number;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

const mib = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1048576).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

/**
 * A download progress reporter: a line at most once a second, or when another 10 % arrived (when
 * the total is known), and none for the final chunk (the caller says when the download is done).
 */
export function downloadMeter(filename: string, say: (line: string) => void, now: () => number = Date.now): (received: number, total: number | undefined) => void {
  let lastAt = now();
  let lastFrac = 0;
  return (received, total) => {
    if (total !== undefined && received >= total) return;
    const frac = total ? received / total : 0;
    const t = now();
    if (t - lastAt < 1000 && !(total && frac - lastFrac >= 0.1)) return;
    lastAt = t;
    lastFrac = frac;
    say(`downloading ${filename}: ${mib(received)}${total ? ` of ${mib(total)} (${Math.floor(frac * 100)} %)` : ''}`);
  };
}

/** The cached copy of `filename` with `sha256`, if there is one that still hashes to it. */
async function cached(downloadsDir: string, sha256: string, filename: string): Promise<string | undefined> {
  const p = join(downloadsDir, sha256, filename);
  try {
    if (!statSync(p).isFile()) return undefined;
  } catch {
    return undefined;
  }
  if ((await sha256File(p)) === sha256) return p;
  rmSync(p, { force: true });
  return undefined;
}

/** Moves a verified download into the cache under its sha256; resolves to its cached path. */
function intoCache(downloadsDir: string, sha256: string, filename: string, src: string): string {
  const dir = join(downloadsDir, sha256);
  mkdirSync(dir, { recursive: true });
  const dest = join(dir, filename);
  renameSync(src, dest);
  return dest;
}

/** Downloads `file` (published sha256) into the cache, or takes the cached copy. */
async function fetchVerified(o: FetchTargetOptions, file: IndexFile): Promise<{ path: string; cachedCopy: boolean }> {
  const hit = await cached(o.downloadsDir, file.sha256, file.filename);
  if (hit) return { path: hit, cachedCopy: true };
  const staging = join(o.downloadsDir, `.staging-${process.pid}-${randomUUID().slice(0, 8)}`);
  mkdirSync(staging, { recursive: true });
  try {
    const tmp = join(staging, file.filename);
    o.say(`downloading ${file.filename}${file.size !== undefined ? ` (${mib(file.size)})` : ''} from ${file.url}`);
    const { sizeBytes } = await o.client.download(file, tmp, { signal: o.signal, onProgress: downloadMeter(file.filename, o.say, o.now) });
    o.say(`downloaded ${file.filename}: ${mib(sizeBytes)}`);
    return { path: intoCache(o.downloadsDir, file.sha256, file.filename, tmp), cachedCopy: false };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Downloads a URL nobody publishes a hash for; resolves to its cached path and sha256. */
async function fetchUnverified(o: FetchTargetOptions, url: string, filename: string): Promise<{ path: string; sha256: string }> {
  const staging = join(o.downloadsDir, `.staging-${process.pid}-${randomUUID().slice(0, 8)}`);
  mkdirSync(staging, { recursive: true });
  try {
    const tmp = join(staging, filename);
    o.say(`downloading ${filename} from ${url}`);
    const { sizeBytes, sha256 } = await o.client.downloadUnverified(url, filename, tmp, { signal: o.signal, onProgress: downloadMeter(filename, o.say, o.now) });
    o.say(`downloaded ${filename}: ${mib(sizeBytes)}, sha256 ${sha256} (not verified)`);
    return { path: intoCache(o.downloadsDir, sha256, filename, tmp), sha256 };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Brings the target's distribution onto this machine (a file is used where it is). */
export async function fetchAuditTarget(target: AuditTarget, o: FetchTargetOptions): Promise<FetchedTarget> {
  if (target.kind === 'file') return { path: target.path, origin: { kind: 'file', sha256Verified: false } };
  mkdirSync(o.downloadsDir, { recursive: true, mode: 0o700 });
  const index = o.client.indexUrl;
  if (target.kind === 'name') {
    o.say(`resolving ${target.project}${target.version ? `==${target.version}` : ' (latest release)'} on ${o.client.simpleUrl}`);
    const file: ResolvedFile = await o.client.resolveRelease(target.project, target.version, undefined, { signal: o.signal });
    o.say(`${target.project} ${file.version}: ${file.filename}${file.yanked ? ' (yanked release)' : ''}, sha256 ${file.sha256.slice(0, 16)}… (${file.api === 'json' ? 'JSON API' : 'Simple API'})`);
    const got = await fetchVerified(o, file);
    o.say(got.cachedCopy ? `${file.filename}: cached copy, sha256 verified` : `${file.filename}: sha256 verified`);
    return { path: got.path, origin: { kind: 'index', url: file.url, index, sha256Verified: true }, expect: { project: target.project, version: file.version } };
  }
  // A URL: its #sha256= fragment, else what the index publishes for the file name. The user named
  // the URL, so its host is allowed for this download (the index's answers stay under the index's policy).
  const fromUrl: FetchTargetOptions = { ...o, client: o.client.allowing(target.url) };
  if (target.sha256) {
    const got = await fetchVerified(fromUrl, { filename: target.filename, url: target.url, sha256: target.sha256 });
    o.say(`${target.filename}: ${got.cachedCopy ? 'cached copy, ' : ''}sha256 verified against the URL's #sha256= fragment`);
    return { path: got.path, origin: { kind: 'url', url: target.url, sha256Verified: true } };
  }
  let known: ResolvedFile | undefined;
  try {
    o.say(`looking up ${target.filename} on ${o.client.simpleUrl}`);
    known = await o.client.findFile(target.filename, { signal: o.signal });
  } catch (err) {
    if (!(err instanceof PytiError) || !['PYTI_INDEX_UNREACHABLE', 'PYTI_INDEX_MALFORMED'].includes(err.code)) throw err;
    o.say(`could not ask the index about ${target.filename}: ${err.code}: ${err.message.split('\n')[0]}`);
  }
  if (known) {
    const got = await fetchVerified(fromUrl, { filename: target.filename, url: target.url, sha256: known.sha256, size: known.size });
    o.say(`${target.filename}: ${got.cachedCopy ? 'cached copy, ' : ''}sha256 verified against the index's`);
    return { path: got.path, origin: { kind: 'url', url: target.url, index, sha256Verified: true }, expect: { project: known.project, version: known.version } };
  }
  o.say(`the index does not know ${target.filename}: auditing it with its sha256 unverified`);
  const got = await fetchUnverified(o, target.url, target.filename);
  return { path: got.path, origin: { kind: 'url', url: target.url, sha256Verified: false } };
}
