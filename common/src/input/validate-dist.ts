/**
 * Host-side validation of a distribution before it goes anywhere near a sandbox: it must be a
 * real sdist (.tar.gz, or a legacy .zip) or wheel, with no member that escapes the tree (absolute paths, `..`, links
 * pointing outside, devices), within size, count and ratio limits (zip and gzip bombs), and with
 * core metadata. Nothing is extracted on the host; the archive is only read.
 */
import { createHash } from 'node:crypto';
import { createReadStream, openSync, readSync, closeSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Writable, Transform } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import yauzl from 'yauzl';
import { PytiError } from '@pyti/vm-agent';
import { DEFAULT_DIST_LIMITS, type DistLimits } from './dist-limits.js';
import { linkStaysInside, unsafeMemberPath } from './member-path.js';
import { statRegularFile } from './regular-file.js';
import { parseCoreMetadata, type CoreMetadata } from './core-metadata.js';

export interface ValidatedDist extends CoreMetadata {
  path: string;
  filename: string;
  kind: 'sdist' | 'wheel';
  sha256: string;
  sizeBytes: number;
  unpackedBytes: number;
  members: number;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

/** The regular file at `path`, within the archive size limit, with its first bytes; throws PYTI_INPUT_*. */
function archiveFile(path: string, limits: DistLimits): { st: Stats; filename: string; m: Buffer } {
  const st = statRegularFile(path);
  const filename = basename(path);
  if (st.size > limits.maxArchiveBytes) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: ${st.size} bytes is above the ${limits.maxArchiveBytes}-byte limit`);
  return { st, filename, m: magic(path) };
}

function magic(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}

/** Validates the file at `path`; throws PytiError (PYTI_INPUT_*) with the reason. */
export async function validateDist(path: string, limits: DistLimits = DEFAULT_DIST_LIMITS): Promise<ValidatedDist> {
  const { st, filename, m } = archiveFile(path, limits);
  let kind: 'sdist' | 'wheel';
  if (filename.endsWith('.whl')) {
    if (!(m[0] === 0x50 && m[1] === 0x4b)) throw new PytiError('PYTI_INPUT_NOT_ARCHIVE', `${filename}: named .whl but is not a zip archive`);
    kind = 'wheel';
  } else if (filename.endsWith('.tar.gz') || filename.endsWith('.tgz')) {
    if (!(m[0] === 0x1f && m[1] === 0x8b)) throw new PytiError('PYTI_INPUT_NOT_ARCHIVE', `${filename}: named .tar.gz but is not gzip data`);
    kind = 'sdist';
  } else if (filename.endsWith('.zip')) {
    // A legacy zip sdist (PyPI still serves them for old releases): PKG-INFO under the top directory.
    if (!(m[0] === 0x50 && m[1] === 0x4b)) throw new PytiError('PYTI_INPUT_NOT_ARCHIVE', `${filename}: named .zip but is not a zip archive`);
    kind = 'sdist';
  } else {
    throw new PytiError('PYTI_INPUT_NOT_ARCHIVE', `${filename}: not a wheel (.whl) or an sdist (.tar.gz, .zip)`);
  }
  const scan = filename.endsWith('.zip') ? await scanZip(path, filename, st.size, limits, ZIP_SDIST_METADATA)
    : kind === 'sdist' ? await scanTarGz(path, filename, st.size, limits) : await scanZip(path, filename, st.size, limits, WHEEL_METADATA);
  const meta = scan.metadata ? parseCoreMetadata(scan.metadata) : null;
  if (!meta) {
    throw new PytiError('PYTI_INPUT_NO_METADATA', kind === 'sdist'
      ? `${filename}: no PKG-INFO with Name and Version at the top of the sdist`
      : `${filename}: no *.dist-info/METADATA with Name and Version in the wheel`);
  }
  return { ...meta, path, filename, kind, sha256: await sha256File(path), sizeBytes: st.size, unpackedBytes: scan.unpacked, members: scan.members };
}

/** A checked .tar.gz that need not be a distribution (see validateTarGz). */
export interface ValidatedTarGz {
  path: string;
  sha256: string;
  sizeBytes: number;
  unpackedBytes: number;
  members: number;
}

/**
 * Checks a .tar.gz that is not itself a distribution (a git job's source archive) exactly as
 * validateDist checks an sdist — member paths, links, member types, size, count and ratio limits —
 * without asking for metadata. `member` may refuse a member name (returning why; null accepts it),
 * e.g. to require one top-level directory. Throws PytiError (PYTI_INPUT_*); nothing is extracted.
 */
export async function validateTarGz(path: string, limits: DistLimits = DEFAULT_DIST_LIMITS, member?: (name: string) => string | null): Promise<ValidatedTarGz> {
  const { st, filename, m } = archiveFile(path, limits);
  if (!(m[0] === 0x1f && m[1] === 0x8b)) throw new PytiError('PYTI_INPUT_NOT_ARCHIVE', `${filename}: not gzip data`);
  const scan = await scanTarGz(path, filename, st.size, limits, member);
  return { path, sha256: await sha256File(path), sizeBytes: st.size, unpackedBytes: scan.unpacked, members: scan.members };
}

interface Scan {
  members: number;
  unpacked: number;
  /** The core metadata's bytes (decoded by parseCoreMetadata: UTF-8, else latin-1). */
  metadata?: Buffer;
}

function checkTotals(filename: string, members: number, unpacked: number, packed: number, limits: DistLimits): void {
  if (members > limits.maxMembers) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: more than ${limits.maxMembers} members`);
  if (unpacked > limits.maxUnpackedBytes) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: expands beyond ${limits.maxUnpackedBytes} bytes`);
  if (unpacked > 32 * 1024 * 1024 && unpacked / Math.max(packed, 1) > limits.maxRatio) {
    throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: expands more than ${limits.maxRatio} times its size (a compression bomb)`);
  }
}

async function scanTarGz(path: string, filename: string, packed: number, limits: DistLimits, member?: (name: string) => string | null): Promise<Scan> {
  const scan: Scan = { members: 0, unpacked: 0 };
  let gunzipped = 0;
  let failure: Error | undefined;
  const parser = new Parser({ strict: true, preservePaths: true });
  // The parser may finish synchronously inside end(): listen before any data flows.
  const parsed = new Promise<void>((resolve) => {
    parser.once('end', () => resolve());
    parser.once('close', () => resolve());
    parser.once('abort', () => resolve());
  });
  const fail = (err: Error): void => {
    if (!failure) failure = err;
  };
  // Strict mode turns a corrupt header into an 'error' event: without a listener it would be thrown
  // out of parser.write (an uncaught exception, ending the whole process).
  parser.on('error', (err: Error) => fail(new PytiError('PYTI_INPUT_MALFORMED', `${filename}: corrupt tar data (${err.message})`, { cause: err })));
  parser.on('entry', (entry: ReadEntry) => {
    scan.members++;
    scan.unpacked += entry.size ?? 0;
    const name = entry.path;
    const why = unsafeMemberPath(name) ?? (member && !entry.type.endsWith('ExtendedHeader') ? member(name) : null);
    if (why) fail(new PytiError('PYTI_INPUT_UNSAFE_PATH', `${filename}: member ${JSON.stringify(name)} ${why}`));
    if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
      if (!linkStaysInside(name, entry.linkpath ?? '', entry.type === 'Link')) {
        fail(new PytiError('PYTI_INPUT_UNSAFE_LINK', `${filename}: link ${JSON.stringify(name)} points outside the archive (${JSON.stringify(entry.linkpath)})`));
      }
    } else if (!['File', 'OldFile', 'ContiguousFile', 'Directory', 'GNUDumpDir', 'ExtendedHeader', 'GlobalExtendedHeader', 'NextFileHasLongPath', 'NextFileHasLongLinkpath', 'OldGnuLongPath'].includes(entry.type)) {
      fail(new PytiError('PYTI_INPUT_UNSAFE_LINK', `${filename}: member ${JSON.stringify(name)} is a ${entry.type}, not a file or directory`));
    }
    try {
      checkTotals(filename, scan.members, scan.unpacked, packed, limits);
    } catch (err) {
      fail(err as Error);
    }
    const parts = name.replace(/^\.\//, '').split('/').filter(Boolean);
    if (parts.length === 2 && parts[1] === 'PKG-INFO' && entry.type === 'File' && (entry.size ?? 0) < 4 * 1024 * 1024 && scan.metadata === undefined) {
      const chunks: Buffer[] = [];
      entry.on('data', (d: Buffer) => chunks.push(d));
      entry.on('end', () => (scan.metadata = Buffer.concat(chunks)));
    } else {
      entry.resume();
    }
  });
  parser.on('warn', (code: string, message: string) => fail(new PytiError('PYTI_INPUT_MALFORMED', `${filename}: ${message} (${code})`)));
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      gunzipped += chunk.length;
      if (gunzipped > limits.maxUnpackedBytes + 1024 * 1024) return cb(new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: decompresses beyond ${limits.maxUnpackedBytes} bytes`));
      if (failure) return cb(failure);
      cb(null, chunk);
    },
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parser.write(chunk);
      cb(failure ?? null);
    },
    final(cb) {
      parser.end();
      cb();
    },
  });
  try {
    await pipeline(createReadStream(path), createGunzip(), counter, sink);
    await parsed;
  } catch (err) {
    if (err instanceof PytiError) throw err;
    throw failure ?? new PytiError('PYTI_INPUT_MALFORMED', `${filename}: corrupt or truncated archive (${(err as Error).message})`, { cause: err });
  }
  if (failure) throw failure;
  if (scan.members === 0) throw new PytiError('PYTI_INPUT_MALFORMED', `${filename}: the archive is empty`);
  return scan;
}

/** Where a wheel keeps its core metadata. */
const WHEEL_METADATA = /^[^/]+\.dist-info\/METADATA$/;
/** Where a zip sdist keeps its core metadata. */
const ZIP_SDIST_METADATA = /^[^/]+\/PKG-INFO$/;

function scanZip(path: string, filename: string, packed: number, limits: DistLimits, metadataName: RegExp): Promise<Scan> {
  return new Promise((resolve, reject) => {
    const scan: Scan = { members: 0, unpacked: 0 };
    yauzl.open(path, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true, decodeStrings: true }, (err, zip) => {
      if (err || !zip) {
        const msg = String(err?.message ?? err);
        const code = /absolute path|relative path|invalid characters/.test(msg) ? 'PYTI_INPUT_UNSAFE_PATH' : 'PYTI_INPUT_MALFORMED';
        return reject(new PytiError(code, `${filename}: ${code === 'PYTI_INPUT_UNSAFE_PATH' ? 'unsafe member path' : 'corrupt zip'} (${msg})`, { cause: err }));
      }
      let metadataEntry: yauzl.Entry | undefined;
      let actual = 0;
      let finished = false;
      const done = (e?: Error): void => {
        if (finished) return;
        finished = true;
        try {
          zip.close();
        } catch {
          /* already closed */
        }
        if (e) reject(e);
        else resolve(scan);
      };
      zip.on('error', (e: Error) => {
        const msg = e.message;
        const code = /absolute path|relative path|invalid characters/.test(msg) ? 'PYTI_INPUT_UNSAFE_PATH' : 'PYTI_INPUT_MALFORMED';
        done(new PytiError(code, `${filename}: ${code === 'PYTI_INPUT_UNSAFE_PATH' ? 'unsafe member path' : 'corrupt zip'} (${msg})`, { cause: e }));
      });
      zip.on('entry', (entry: yauzl.Entry) => {
        scan.members++;
        scan.unpacked += entry.uncompressedSize;
        const why = unsafeMemberPath(entry.fileName);
        if (why) return done(new PytiError('PYTI_INPUT_UNSAFE_PATH', `${filename}: member ${JSON.stringify(entry.fileName)} ${why}`));
        const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
        if (mode === 0o120000) return done(new PytiError('PYTI_INPUT_UNSAFE_LINK', `${filename}: member ${JSON.stringify(entry.fileName)} is a symbolic link`));
        if (mode !== 0 && mode !== 0o100000 && mode !== 0o040000) return done(new PytiError('PYTI_INPUT_UNSAFE_LINK', `${filename}: member ${JSON.stringify(entry.fileName)} is not a file or directory`));
        try {
          checkTotals(filename, scan.members, scan.unpacked, packed, limits);
        } catch (e) {
          return done(e as Error);
        }
        if (metadataName.test(entry.fileName) && metadataEntry === undefined) metadataEntry = entry;
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        // Decompress to count real bytes: declared sizes can lie (validateEntrySizes catches it).
        zip.openReadStream(entry, (e2, stream) => {
          if (e2 || !stream) return done(new PytiError('PYTI_INPUT_MALFORMED', `${filename}: cannot read ${entry.fileName} (${e2?.message})`, { cause: e2 }));
          const chunks: Buffer[] = [];
          let kept = 0;
          stream.on('data', (d: Buffer) => {
            actual += d.length;
            // The metadata's own first 4 MiB (`actual` counts the whole archive: a wheel keeps its dist-info last).
            if (entry === metadataEntry && kept < 4 * 1024 * 1024) {
              chunks.push(d);
              kept += d.length;
            }
            if (actual > limits.maxUnpackedBytes) {
              stream.destroy();
              done(new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: decompresses beyond ${limits.maxUnpackedBytes} bytes`));
            }
          });
          stream.on('error', (e3: Error) => done(new PytiError('PYTI_INPUT_MALFORMED', `${filename}: ${entry.fileName}: ${e3.message}`, { cause: e3 })));
          stream.on('end', () => {
            if (entry === metadataEntry) scan.metadata = Buffer.concat(chunks);
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => done());
      zip.readEntry();
    });
  });
}
