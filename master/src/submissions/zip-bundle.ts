/**
 * Reading a zip of several projects (a seed submission) without extracting it: every entry is checked
 * before anything is used — names (no absolute paths, `..`, NUL or backslashes: slave/src/input's
 * `unsafeMemberPath`, and yauzl's strict names), types (regular files and directories only: no
 * symbolic links or devices), no name twice, the entry count, the declared unpacked total and the
 * compression ratio (zip bombs); reading an entry is capped by its real bytes as well (sizes that lie
 * are caught by yauzl's size validation).
 *
 * What a zip holds, in the order a user would expect:
 * - **project directories**: a directory holding `pyproject.toml` or `setup.py` is one project (every
 *   file below it belongs to it; a nested one is part of its parent). The zip's root can be one.
 * - **distributions**: files named `*.whl`, `*.tar.gz` or `*.zip` (a legacy sdist) outside project
 *   directories, at any depth; each is one audit.
 * - everything else (a README, `__MACOSX/` resource forks) is ignored and counted.
 */
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { PytiError } from '@pyti/vm-agent';
import { unsafeMemberPath } from '@pyti/common';
import { SubmissionInvalidError } from './submission-errors.js';

/** Limits of a submission zip. */
export interface BundleLimits {
  /** Entries (files and directories). */
  maxEntries: number;
  /** Projects and distributions in all. */
  maxItems: number;
  /** Sum of the entries' uncompressed sizes. */
  maxUnpackedBytes: number;
  /** Unpacked / packed, above which (past 32 MiB unpacked) the zip is a bomb. */
  maxRatio: number;
  /** One project directory's files in all. */
  maxProjectBytes: number;
  /** Files of one project directory. */
  maxProjectFiles: number;
}

export const DEFAULT_BUNDLE_LIMITS: Readonly<BundleLimits> = Object.freeze({
  maxEntries: 20_000, maxItems: 100, maxUnpackedBytes: 1024 * 1024 * 1024, maxRatio: 200, maxProjectBytes: 256 * 1024 * 1024, maxProjectFiles: 10_000,
});

/** One file entry. */
export interface BundleFile {
  name: string;
  size: number;
  executable: boolean;
  entry: yauzl.Entry;
}

/** What a zip holds (see the module comment). */
export interface BundleContents {
  /** Project directories (`''` for the root; else `dir/` with its slash), each with its files (names relative to it). */
  projects: { dir: string; files: (BundleFile & { rel: string })[] }[];
  dists: BundleFile[];
  ignored: number;
}

const DIST = /\.(whl|tar\.gz|zip)$/;
const MARKERS = new Set(['pyproject.toml', 'setup.py']);

function zipError(filename: string, err: Error): PytiError {
  const msg = err.message;
  const unsafe = /absolute path|relative path|invalid characters/.test(msg);
  return new PytiError(unsafe ? 'PYTI_INPUT_UNSAFE_PATH' : 'PYTI_INPUT_MALFORMED', `${filename}: ${unsafe ? 'unsafe entry name' : 'corrupt zip'} (${msg})`, { cause: err });
}

/** An open submission zip (close it when done). */
export class ZipBundle {
  private constructor(private readonly zip: yauzl.ZipFile, readonly filename: string, readonly contents: BundleContents) {}

  /** Opens and checks the zip at `path` (`filename` for messages); throws PYTI_INPUT_* or PYTI_SUBMISSION_INVALID. */
  static async open(path: string, filename: string, packedBytes: number, limits: BundleLimits = DEFAULT_BUNDLE_LIMITS): Promise<ZipBundle> {
    const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
      yauzl.open(path, { lazyEntries: true, autoClose: false, strictFileNames: true, validateEntrySizes: true, decodeStrings: true }, (err, z) => {
        if (err || !z) reject(zipError(filename, err ?? new Error('cannot open')));
        else resolve(z);
      });
    });
    try {
      if (zip.entryCount > limits.maxEntries) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: ${zip.entryCount} entries, more than ${limits.maxEntries}`);
      const files = await readEntries(zip, filename, packedBytes, limits);
      return new ZipBundle(zip, filename, classify(files, filename, limits));
    } catch (err) {
      zip.close();
      throw err;
    }
  }

  /** A stream of one file's bytes (checked against its declared size by yauzl). */
  stream(f: BundleFile): Promise<Readable> {
    return new Promise((resolve, reject) => {
      this.zip.openReadStream(f.entry, (err, s) => (err || !s ? reject(zipError(this.filename, err ?? new Error('cannot read'))) : resolve(s)));
    });
  }

  /** One file's bytes in memory, refusing more than `maxBytes` real bytes. */
  async read(f: BundleFile, maxBytes: number): Promise<Buffer> {
    const s = await this.stream(f);
    const chunks: Buffer[] = [];
    let n = 0;
    try {
      for await (const c of s) {
        n += (c as Buffer).length;
        if (n > maxBytes) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${this.filename}: ${f.name} is larger than ${maxBytes} bytes`);
        chunks.push(c as Buffer);
      }
    } catch (err) {
      s.destroy();
      if (err instanceof PytiError) throw err;
      throw zipError(this.filename, err as Error);
    }
    return Buffer.concat(chunks);
  }

  close(): void {
    this.zip.close();
  }
}

/** Reads the central directory: every entry checked, the files returned. */
function readEntries(zip: yauzl.ZipFile, filename: string, packed: number, limits: BundleLimits): Promise<BundleFile[]> {
  return new Promise((resolve, reject) => {
    const files: BundleFile[] = [];
    const seen = new Set<string>();
    let unpacked = 0;
    let done = false;
    const fail = (e: Error) => {
      if (!done) {
        done = true;
        reject(e);
      }
    };
    zip.on('error', (e: Error) => fail(zipError(filename, e)));
    zip.on('end', () => {
      if (!done) {
        done = true;
        resolve(files);
      }
    });
    zip.on('entry', (e: yauzl.Entry) => {
      const name = e.fileName;
      const why = unsafeMemberPath(name) ?? (name.includes('\\') ? 'has a backslash' : null);
      if (why) return fail(new PytiError('PYTI_INPUT_UNSAFE_PATH', `${filename}: entry ${JSON.stringify(name.slice(0, 200))} ${why}`));
      const key = name.replace(/\/+$/, '');
      if (seen.has(key)) return fail(new SubmissionInvalidError(filename, `entry ${JSON.stringify(name.slice(0, 200))} appears twice`));
      seen.add(key);
      const mode = (e.externalFileAttributes >>> 16) & 0o170000;
      if (mode === 0o120000) return fail(new PytiError('PYTI_INPUT_UNSAFE_LINK', `${filename}: entry ${JSON.stringify(name.slice(0, 200))} is a symbolic link`));
      if (mode !== 0 && mode !== 0o100000 && mode !== 0o040000) return fail(new PytiError('PYTI_INPUT_UNSAFE_LINK', `${filename}: entry ${JSON.stringify(name.slice(0, 200))} is not a file or directory`));
      unpacked += e.uncompressedSize;
      if (unpacked > limits.maxUnpackedBytes) return fail(new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: expands beyond ${limits.maxUnpackedBytes} bytes`));
      if (unpacked > 32 * 1024 * 1024 && unpacked / Math.max(1, packed) > limits.maxRatio) {
        return fail(new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: expands more than ${limits.maxRatio} times its size (a compression bomb)`));
      }
      if (!name.endsWith('/')) files.push({ name, size: e.uncompressedSize, executable: ((e.externalFileAttributes >>> 16) & 0o111) !== 0, entry: e });
      zip.readEntry();
    });
    zip.readEntry();
  });
}

/** Sorts the files into projects, distributions and ignored ones (see the module comment). */
function classify(files: BundleFile[], filename: string, limits: BundleLimits): BundleContents {
  const junk = (n: string) => n.startsWith('__MACOSX/') || n.endsWith('/.DS_Store') || n === '.DS_Store';
  const useful = files.filter((f) => !junk(f.name));
  const dirOf = (n: string) => n.slice(0, n.lastIndexOf('/') + 1);
  const markerDirs = [...new Set(useful.filter((f) => MARKERS.has(f.name.slice(f.name.lastIndexOf('/') + 1))).map((f) => dirOf(f.name)))];
  // Top-most only: a marker inside a project belongs to it.
  const projectDirs = markerDirs.filter((d) => !markerDirs.some((o) => o !== d && d.startsWith(o))).sort();
  const projects = projectDirs.map((dir) => ({ dir, files: [] as (BundleFile & { rel: string })[] }));
  const dists: BundleFile[] = [];
  let ignored = files.length - useful.length;
  for (const f of useful) {
    const p = projects.find((x) => f.name.startsWith(x.dir));
    if (p) p.files.push({ ...f, rel: f.name.slice(p.dir.length) });
    else if (DIST.test(f.name)) dists.push(f);
    else ignored++;
  }
  for (const p of projects) {
    const bytes = p.files.reduce((n, f) => n + f.size, 0);
    const where = p.dir || 'the zip\'s root';
    if (p.files.length > limits.maxProjectFiles) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: project ${where} has more than ${limits.maxProjectFiles} files`);
    if (bytes > limits.maxProjectBytes) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: project ${where} holds more than ${limits.maxProjectBytes} bytes`);
  }
  if (projects.length + dists.length === 0) {
    throw new SubmissionInvalidError(filename, 'holds no distribution (*.whl, *.tar.gz, *.zip) and no project directory (with pyproject.toml or setup.py)');
  }
  if (projects.length + dists.length > limits.maxItems) {
    throw new SubmissionInvalidError(filename, `holds ${projects.length + dists.length} projects and distributions, more than ${limits.maxItems}`);
  }
  dists.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { projects, dists, ignored };
}
