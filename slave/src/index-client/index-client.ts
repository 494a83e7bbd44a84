/**
 * The slave's client of a PyPI-compatible package index (pypi.org, or the test index): resolves
 * `project==version` to one file with the JSON API and downloads it, verifying the published sha256
 * while streaming.
 *
 * Security: the index is untrusted. Its JSON is size-capped and shape-checked (`PYTI_INDEX_MALFORMED`);
 * file names are used as paths only when `safeDistFilename` accepts them; URLs must be http(s);
 * downloads are capped in size and time, written to a temporary name and renamed into place only
 * when the sha256 (and the published size) match (`PYTI_INDEX_HASH_MISMATCH`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PytiError } from '@pyti/vm-agent';
import { DEFAULT_DIST_LIMITS } from '../input/dist-limits.js';
import { DEFAULT_INDEX_URL, normalizeIndexUrl, releaseJsonUrl, simpleUrl } from './index-url.js';
import { indexGet } from './index-http.js';
import { releaseFiles, type IndexFile } from './release-json.js';
import { isPureWheel, safeDistFilename } from './dist-filename.js';

export interface IndexClientOptions {
  /** Base URL of the index (default https://pypi.org): `<base>/pypi/<p>/<v>/json` and `<base>/simple/`. */
  indexUrl?: string;
  /** For a JSON document, request and body. Default 30 s. */
  timeoutMs?: number;
  /** For a file download, request and body. Default 10 min. */
  downloadTimeoutMs?: number;
  /** Largest JSON document. Default 16 MiB. */
  maxJsonBytes?: number;
  /** Largest distribution file. Default the archive limit of validateDist (512 MiB). */
  maxFileBytes?: number;
}

export interface ResolveOptions {
  signal?: AbortSignal;
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
  readonly indexUrl: string;
  /** pip's `--index-url` for this index. */
  readonly simpleUrl: string;

  constructor(private readonly opts: IndexClientOptions = {}) {
    this.indexUrl = normalizeIndexUrl(opts.indexUrl ?? DEFAULT_INDEX_URL);
    this.simpleUrl = simpleUrl(this.indexUrl);
  }

  /** The file of `project==version` to audit (see pickFile), with its published sha256. */
  async resolve(project: string, version: string, filename?: string, options: ResolveOptions = {}): Promise<IndexFile> {
    const url = releaseJsonUrl(this.indexUrl, project, version);
    const res = await indexGet(url, `${project} ${version}`, { timeoutMs: this.opts.timeoutMs, signal: options.signal });
    const max = this.opts.maxJsonBytes ?? 16 * 1024 * 1024;
    let text: string;
    try {
      text = await readCapped(res, max);
    } catch (err) {
      if (err instanceof PytiError) throw err;
      throw new PytiError('PYTI_INDEX_UNREACHABLE', `${url}: ${(err as Error).message}`, { cause: err });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new PytiError('PYTI_INDEX_MALFORMED', `${url}: not JSON`);
    }
    return pickFile(releaseFiles(doc, url), project, version, filename);
  }

  /**
   * Downloads `file` to `dest` (a path the caller chose; the index's name is not used), verifying size
   * and sha256 while streaming. Resolves to the size.
   */
  async download(file: IndexFile, dest: string, options: ResolveOptions = {}): Promise<{ sizeBytes: number }> {
    const max = Math.min(this.opts.maxFileBytes ?? DEFAULT_DIST_LIMITS.maxArchiveBytes, file.size ?? Number.MAX_SAFE_INTEGER);
    const res = await indexGet(file.url, file.filename, { timeoutMs: this.opts.downloadTimeoutMs ?? 600_000, signal: options.signal });
    if (!res.body) throw new PytiError('PYTI_INDEX_UNREACHABLE', `${file.url}: empty answer`);
    const hash = createHash('sha256');
    let n = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        n += chunk.length;
        if (n > max) {
          return cb(new PytiError(file.size !== undefined && n > file.size ? 'PYTI_INDEX_HASH_MISMATCH' : 'PYTI_INPUT_TOO_LARGE',
            file.size !== undefined && n > file.size ? `${file.filename}: longer than the ${file.size} bytes the index publishes` : `${file.filename}: larger than ${max} bytes`));
        }
        hash.update(chunk);
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
        throw new PytiError('PYTI_INDEX_UNREACHABLE', `${file.url}: download broke off (${(err as Error).message})`, { cause: err });
      }
      const got = hash.digest('hex');
      if (got !== file.sha256) throw new PytiError('PYTI_INDEX_HASH_MISMATCH', `${file.filename}: sha256 is ${got}, the index publishes ${file.sha256}`);
      if (file.size !== undefined && n !== file.size) throw new PytiError('PYTI_INDEX_HASH_MISMATCH', `${file.filename}: ${n} bytes, the index publishes ${file.size}`);
      renameSync(tmp, dest);
      return { sizeBytes: n };
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}

async function readCapped(res: Response, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    n += chunk.length;
    if (n > max) {
      await res.body?.cancel().catch(() => undefined);
      throw new PytiError('PYTI_INDEX_MALFORMED', `${res.url}: the document is larger than ${max} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

