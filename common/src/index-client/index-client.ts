/**
 * The client of a PyPI-compatible package index (pypi.org, a mirror, pypiserver, a static directory,
 * or the test index), used by the slave and the CLI: resolves `project==version`, or a project's
 * latest release, to one file — with pypi.org's JSON API when the index has it, else from the
 * project's Simple API page (PEP 503 HTML or PEP 691 JSON) — and downloads it, verifying the
 * published sha256 while streaming.
 *
 * Security: the index is untrusted. Its documents are size-capped and shape-checked
 * (`PYTI_INDEX_MALFORMED`); file names are used as paths only when `safeDistFilename` accepts them;
 * URLs must be http(s); downloads are capped in size and time, written to a temporary name and
 * renamed into place only when the sha256 (and the published size) match (`PYTI_INDEX_HASH_MISMATCH`).
 * A file the index publishes no sha256 for is never chosen. Every request, redirect and file URL goes
 * only to the index's origin or a files host (FetchPolicy: `PYTI_INDEX_HOST_REFUSED` otherwise).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PytiError } from '@pyti/vm-agent';
import { DEFAULT_DIST_LIMITS } from '../input/dist-limits.js';
import { DEFAULT_INDEX_URL, VERSION_TEXT, indexLocation, projectJsonUrl, projectSimpleUrl, releaseJsonUrl } from './index-url.js';
import { indexGet, readCapped } from './index-http.js';
import { FetchPolicy } from './fetch-policy.js';
import { policyFetch } from './policy-fetch.js';
import { releaseFiles, type IndexFile } from './release-json.js';
import { isPureWheel, safeDistFilename } from './dist-filename.js';
import { compareVersions, isPrerelease, isValidVersion, sameVersion } from './pep440.js';
import { parseDistFilename, simpleFiles, SIMPLE_ACCEPT, type SimpleFile } from './simple-page.js';

export interface IndexClientOptions {
  /**
   * The index (default https://pypi.org), as its base (`<base>/pypi/<p>/<v>/json`, `<base>/simple/`)
   * or as its Simple API root (`https://pypi.org/simple/`, as pip's `index-url`): see indexLocation.
   */
  indexUrl?: string;
  /** For a JSON document, request and body. Default 30 s. */
  timeoutMs?: number;
  /** For a file download, request and body. Default 10 min. */
  downloadTimeoutMs?: number;
  /** Largest JSON document. Default 16 MiB. */
  maxJsonBytes?: number;
  /** Largest Simple API page. Default 64 MiB (projects with thousands of files have pages of several MiB). */
  maxSimpleBytes?: number;
  /** Largest distribution file. Default the archive limit of validateDist (512 MiB). */
  maxFileBytes?: number;
  /** Files hosts besides the index (see FetchPolicy; default files.pythonhosted.org for pypi.org). Ignored with `policy`. */
  filesHosts?: readonly string[];
  /** The whole fetch policy (built once at start-up); default from `indexUrl` and `filesHosts`. */
  policy?: FetchPolicy;
}

export interface ResolveOptions {
  signal?: AbortSignal;
}

export interface DownloadOptions extends ResolveOptions {
  /** Told the bytes received so far and the total when known (the published size, else Content-Length), after every chunk. */
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
}

/** A file chosen for a release, with the release and how the index was read. */
export interface ResolvedFile extends IndexFile {
  /** The project as asked for. */
  project: string;
  /** The release's version as the index lists it. */
  version: string;
  /** `json`: pypi.org's JSON API; `simple`: the project's Simple API page. */
  api: 'json' | 'simple';
  /** The release is yanked (PEP 592); only chosen when asked for by version. */
  yanked?: boolean;
}

/** Picks the file a job audits: `filename` when given, else the sdist, else a pure-Python wheel. */
export function pickFile(files: IndexFile[], project: string, version: string, filename?: string): IndexFile {
  if (filename !== undefined) {
    if (!safeDistFilename(filename)) throw new PytiError('PYTI_INDEX_NOT_FOUND', `${JSON.stringify(filename)} is not a distribution file name`);
    const f = files.find((x) => x.filename === filename);
    if (!f) throw new PytiError('PYTI_INDEX_NOT_FOUND', `${project} ${version} has no file ${filename}`);
    return f;
  }
  const isSdist = (x: { packagetype?: string }): boolean => x.packagetype === undefined || x.packagetype === 'sdist';
  const sdist = files.find((x) => x.filename.endsWith('.tar.gz') && isSdist(x)) ?? files.find((x) => x.filename.endsWith('.zip') && isSdist(x));
  const pick = sdist ?? files.find((x) => isPureWheel(x.filename));
  if (!pick) throw new PytiError('PYTI_INDEX_NOT_FOUND', `${project} ${version} has no sdist and no pure-Python wheel`);
  return pick;
}

export class IndexClient {
  /** Base of the JSON API, no trailing slash. */
  readonly indexUrl: string;
  /** pip's `--index-url` for this index: the Simple API root, with a trailing slash. */
  readonly simpleUrl: string;
  /** Where requests, redirects and downloads may go. */
  readonly policy: FetchPolicy;

  constructor(private readonly opts: IndexClientOptions = {}) {
    ({ indexUrl: this.indexUrl, simpleUrl: this.simpleUrl } = indexLocation(opts.indexUrl ?? DEFAULT_INDEX_URL));
    this.policy = opts.policy ?? FetchPolicy.forIndex(this.indexUrl, { filesHosts: opts.filesHosts });
  }

  /** The file of `project==version` to audit (see pickFile), with its published sha256. */
  async resolve(project: string, version: string, filename?: string, options: ResolveOptions = {}): Promise<IndexFile> {
    return this.resolveRelease(project, version, filename, options);
  }

  /**
   * The file to audit of `project`'s release `version`, or of its latest release when `version` is
   * undefined (as pypi.org's JSON API says; on the Simple API, the highest non-yanked final release,
   * else the highest non-yanked pre-release). The JSON API is asked first; when it answers 404 (the
   * index has none, or not this project) the project's Simple API page is read.
   */
  async resolveRelease(project: string, version: string | undefined, filename?: string, options: ResolveOptions = {}): Promise<ResolvedFile> {
    const url = version === undefined ? projectJsonUrl(this.indexUrl, project) : releaseJsonUrl(this.indexUrl, project, version);
    let doc: unknown;
    try {
      doc = await this.getJson(url, `${project}${version === undefined ? '' : ` ${version}`}`, options);
    } catch (err) {
      if (err instanceof PytiError && err.code === 'PYTI_INDEX_NOT_FOUND') return this.resolveFromSimple(project, version, filename, options);
      throw err;
    }
    let v = version;
    if (v === undefined) {
      const info = typeof doc === 'object' && doc !== null ? (doc as { info?: unknown }).info : undefined;
      const iv = typeof info === 'object' && info !== null ? (info as { version?: unknown }).version : undefined;
      if (typeof iv !== 'string' || !VERSION_TEXT.test(iv)) throw new PytiError('PYTI_INDEX_MALFORMED', `${url}: "info.version" is not a version`);
      v = iv;
    }
    return { ...pickFile(releaseFiles(doc, url), project, v, filename), project, version: v, api: 'json' };
  }

  /** The files the project's Simple API page lists (`PYTI_INDEX_NOT_FOUND` when the index has no such project). */
  async simplePage(project: string, options: ResolveOptions = {}): Promise<SimpleFile[]> {
    const url = projectSimpleUrl(this.simpleUrl, project);
    const res = await indexGet(url, `project ${project}`, { timeoutMs: this.opts.timeoutMs, signal: options.signal, headers: { accept: SIMPLE_ACCEPT }, policy: this.policy });
    const text = await readCapped(res, this.opts.maxSimpleBytes ?? 64 * 1024 * 1024);
    return simpleFiles(text, res.headers.get('content-type') ?? 'text/html', res.url || url, project);
  }

  /**
   * Undefined when the index's Simple API answers at all (any HTTP status, for `project`'s page),
   * else why not (no route, DNS, timeout): one request, no retries, for saying early that nothing
   * can be prefetched rather than letting every pip run find out.
   */
  async whyUnreachable(project: string, options: ResolveOptions & { timeoutMs?: number } = {}): Promise<string | undefined> {
    let url = this.simpleUrl;
    try {
      url = projectSimpleUrl(this.simpleUrl, project);
    } catch {
      /* not a project name: ask the root */
    }
    try {
      const res = await policyFetch(this.policy, url, { signal: AbortSignal.any([options.signal ?? new AbortController().signal, AbortSignal.timeout(options.timeoutMs ?? 15_000)]), headers: { 'user-agent': 'pyti-slave', accept: SIMPLE_ACCEPT } });
      await res.body?.cancel().catch(() => undefined);
      return undefined;
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      const c = (err as Error).cause as Error | undefined;
      return `${url}: ${(err as Error).message}${c?.message ? ` (${c.message})` : ''}`;
    }
  }

  /**
   * What the index publishes for the distribution file `filename` (by the project and version its
   * name says), or undefined when the index does not know it.
   */
  async findFile(filename: string, options: ResolveOptions = {}): Promise<ResolvedFile | undefined> {
    const parts = parseDistFilename(filename);
    if (!parts) return undefined;
    try {
      return await this.resolveRelease(parts.project, parts.version, filename, options);
    } catch (err) {
      if (err instanceof PytiError && err.code === 'PYTI_INDEX_NOT_FOUND') return undefined;
      throw err;
    }
  }

  private async resolveFromSimple(project: string, version: string | undefined, filename: string | undefined, options: ResolveOptions): Promise<ResolvedFile> {
    const all = await this.simplePage(project, options);
    let v: string;
    let files: SimpleFile[];
    if (version !== undefined) {
      files = all.filter((f) => sameVersion(f.version, version));
      if (!files.length) throw new PytiError('PYTI_INDEX_NOT_FOUND', `${project} has no release ${version} on the index${describeVersions(all)}`);
      v = files[0]!.version;
    } else {
      const live = all.filter((f) => !f.yanked && isValidVersion(f.version));
      const newest = (vs: string[]): string | undefined => vs.sort(compareVersions).pop();
      const pick = newest(live.filter((f) => !isPrerelease(f.version)).map((f) => f.version)) ?? newest(live.map((f) => f.version));
      if (pick === undefined) {
        throw new PytiError('PYTI_INDEX_NOT_FOUND', all.length ? `${project}: every release on the index is yanked or has no valid version; name one with ${project}==VERSION${describeVersions(all)}` : `${project}: the index lists no files for it`);
      }
      v = pick;
      files = live.filter((f) => sameVersion(f.version, pick));
    }
    const verifiable = files.filter((f): f is SimpleFile & { sha256: string } => f.sha256 !== undefined);
    let chosen: IndexFile;
    try {
      chosen = pickFile(verifiable, project, v, filename);
    } catch (err) {
      if (verifiable.length < files.length) {
        throw new PytiError('PYTI_INDEX_MALFORMED', `${project} ${v}: the index publishes no sha256 for ${files.filter((f) => !f.sha256).map((f) => f.filename).slice(0, 5).join(', ')}; PyTI downloads only files it can verify`, { cause: err });
      }
      throw err;
    }
    const f = verifiable.find((x) => x.filename === chosen.filename)!;
    const out: ResolvedFile = { filename: f.filename, url: f.url, sha256: f.sha256, packagetype: f.packagetype, project, version: v, api: 'simple' };
    if (f.yanked) out.yanked = true;
    return out;
  }

  private async getJson(url: string, what: string, options: ResolveOptions): Promise<unknown> {
    const res = await indexGet(url, what, { timeoutMs: this.opts.timeoutMs, signal: options.signal, headers: { accept: 'application/json' }, policy: this.policy });
    const text = await readCapped(res, this.opts.maxJsonBytes ?? 16 * 1024 * 1024);
    try {
      return JSON.parse(text);
    } catch {
      throw new PytiError('PYTI_INDEX_MALFORMED', `${url}: not JSON`);
    }
  }

  /**
   * Downloads `file` to `dest` (a path the caller chose; the index's name is not used), verifying size
   * and sha256 while streaming. Resolves to the size.
   */
  async download(file: IndexFile, dest: string, options: DownloadOptions = {}): Promise<{ sizeBytes: number }> {
    const { sizeBytes } = await this.fetchFile(file.url, file.filename, dest, { ...options, sha256: file.sha256, size: file.size });
    return { sizeBytes };
  }

  /**
   * Downloads `url` to `dest` without a published hash to check it against (a URL a user gave that
   * the index does not know), size- and time-capped as `download`; resolves to its size and sha256.
   */
  async downloadUnverified(url: string, filename: string, dest: string, options: DownloadOptions = {}): Promise<{ sizeBytes: number; sha256: string }> {
    return this.allowing(url).fetchFile(url, filename, dest, options);
  }

  /**
   * This client, also allowed to fetch from the origin of `url` — a URL the user named on the command
   * line (`pyti audit URL`), which may be on any address; redirects from it stay under the policy.
   */
  allowing(url: string): IndexClient {
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      throw new PytiError('PYTI_INDEX_MALFORMED', `${JSON.stringify(url)} is not a URL`);
    }
    if (this.policy.origins.includes(origin)) return this;
    const policy = FetchPolicy.forIndex(this.indexUrl, { filesHosts: [...this.policy.origins.slice(1), origin], resolve: this.policy.resolve, trustFilesHosts: true });
    return new IndexClient({ ...this.opts, indexUrl: this.indexUrl, policy });
  }

  private async fetchFile(url: string, filename: string, dest: string, options: DownloadOptions & { sha256?: string; size?: number }): Promise<{ sizeBytes: number; sha256: string }> {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PytiError('PYTI_INDEX_MALFORMED', `${filename}: URL is not http or https`);
    const published = options.size;
    const max = Math.min(this.opts.maxFileBytes ?? DEFAULT_DIST_LIMITS.maxArchiveBytes, published ?? Number.MAX_SAFE_INTEGER);
    const res = await indexGet(url, filename, { timeoutMs: this.opts.downloadTimeoutMs ?? 600_000, signal: options.signal, policy: this.policy });
    if (!res.body) throw new PytiError('PYTI_INDEX_UNREACHABLE', `${url}: empty answer`);
    const announced = Number(res.headers.get('content-length'));
    const total = published ?? (Number.isSafeInteger(announced) && announced > 0 ? announced : undefined);
    if (published === undefined && total !== undefined && total > max) {
      await res.body.cancel().catch(() => undefined);
      throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: ${total} bytes, larger than ${max}`);
    }
    const hash = createHash('sha256');
    let n = 0;
    const onProgress = options.onProgress;
    const meter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        n += chunk.length;
        if (n > max) {
          return cb(new PytiError(published !== undefined && n > published ? 'PYTI_INDEX_HASH_MISMATCH' : 'PYTI_INPUT_TOO_LARGE',
            published !== undefined && n > published ? `${filename}: longer than the ${published} bytes the index publishes` : `${filename}: larger than ${max} bytes`));
        }
        hash.update(chunk);
        onProgress?.(n, total);
        cb(null, chunk);
      },
    });
    const tmp = `${dest}.part-${process.pid}-${randomUUID().slice(0, 8)}`;
    try {
      try {
        await pipeline(Readable.fromWeb(res.body as never), meter, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
      } catch (err) {
        if (err instanceof PytiError) throw err;
        if (options.signal?.aborted) throw options.signal.reason;
        throw new PytiError('PYTI_INDEX_UNREACHABLE', `${url}: download broke off (${(err as Error).message})`, { cause: err });
      }
      const got = hash.digest('hex');
      if (options.sha256 !== undefined && got !== options.sha256) throw new PytiError('PYTI_INDEX_HASH_MISMATCH', `${filename}: sha256 is ${got}, the index publishes ${options.sha256}`);
      if (published !== undefined && n !== published) throw new PytiError('PYTI_INDEX_HASH_MISMATCH', `${filename}: ${n} bytes, the index publishes ${published}`);
      renameSync(tmp, dest);
      return { sizeBytes: n, sha256: got };
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}

/** `; it has 1.0, 1.1` (the newest few versions a page lists), for error messages. */
function describeVersions(files: SimpleFile[]): string {
  const vs = [...new Set(files.map((f) => f.version))].sort(compareVersions);
  if (!vs.length) return '';
  return `; it has ${vs.length > 10 ? `…, ${vs.slice(-10).join(', ')}` : vs.join(', ')}`;
}
