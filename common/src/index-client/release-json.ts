/**
 * The files of one release, read from the index's JSON API document (`/pypi/<p>/<v>/json`), which is
 * untrusted: only the fields PyTI uses are read, each checked (`PYTI_INDEX_MALFORMED` otherwise), and
 * file URLs are resolved against the document's URL and must be http or https.
 */
import { PytiError } from '@pyti/vm-agent';
import { safeDistFilename } from './dist-filename.js';

/** One downloadable file of a release, as the index describes it. */
export interface IndexFile {
  filename: string;
  /** Absolute http(s) URL. */
  url: string;
  /** Lower-case hex sha256 the index publishes. */
  sha256: string;
  /** Size in bytes, when the index says. */
  size?: number;
  packagetype?: string;
}

function malformed(docUrl: string, why: string): PytiError {
  return new PytiError('PYTI_INDEX_MALFORMED', `${docUrl}: ${why}`);
}

/**
 * The release's files from a JSON API document. Entries whose file name is unsafe or not a
 * distribution are left out (a name never becomes a path unchecked); an entry without a sha256 is
 * malformed (PyTI never downloads a file it cannot verify).
 */
export function releaseFiles(doc: unknown, docUrl: string): IndexFile[] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformed(docUrl, 'not a JSON object');
  const urls = (doc as { urls?: unknown }).urls;
  if (!Array.isArray(urls)) throw malformed(docUrl, '"urls" is not an array');
  if (urls.length > 10_000) throw malformed(docUrl, 'more than 10000 files');
  const files: IndexFile[] = [];
  for (const [i, e] of urls.entries()) {
    if (typeof e !== 'object' || e === null) throw malformed(docUrl, `urls[${i}] is not an object`);
    const { filename, url, digests, size, packagetype } = e as Record<string, unknown>;
    if (typeof filename !== 'string' || typeof url !== 'string') throw malformed(docUrl, `urls[${i}] lacks filename or url`);
    if (!safeDistFilename(filename)) continue;
    const sha256 = typeof digests === 'object' && digests !== null ? (digests as { sha256?: unknown }).sha256 : undefined;
    if (typeof sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha256)) throw malformed(docUrl, `${filename} has no sha256 digest`);
    let abs: URL;
    try {
      abs = new URL(url, docUrl);
    } catch {
      throw malformed(docUrl, `${filename}: ${JSON.stringify(url.slice(0, 200))} is not a URL`);
    }
    if (abs.protocol !== 'http:' && abs.protocol !== 'https:') throw malformed(docUrl, `${filename}: URL is not http or https`);
    const f: IndexFile = { filename, url: abs.toString(), sha256: sha256.toLowerCase() };
    if (size !== undefined && size !== null) {
      if (!Number.isSafeInteger(size) || (size as number) < 0) throw malformed(docUrl, `${filename}: size is not a whole number`);
      f.size = size as number;
    }
    if (typeof packagetype === 'string') f.packagetype = packagetype.slice(0, 50);
    files.push(f);
  }
  return files;
}
