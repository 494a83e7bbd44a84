/**
 * Host-side validation of a distribution before it goes anywhere near a sandbox: it must be a
 * real sdist (.tar.gz, or a legacy .zip) or wheel, with no member that escapes the tree (absolute paths, `..`, links
 * pointing outside, devices), within size, count and ratio limits (zip and gzip bombs), and with
 * core metadata. Nothing is extracted on the host; the archive is only read.
 *
 * Bounded for any input: .tar.gz files are read by tar-reader.ts (stops at the end-of-archive
 * marker; bytes, running compression ratio and time capped), zips by declared and real sizes and
 * time. The host reads an archive as the guest's Python tarfile/zipfile will: real (PAX/GNU) names
 * and sizes, names normalized as the guest's inspect task does, and whatever the two could read
 * differently (two metadata files or .dist-info directories, zip central/local name mismatches,
 * non-UTF-8 names, link chains above the root) is refused with a PYTI_INPUT_* code.
 */
import { createHash } from 'node:crypto';
import { createReadStream, openSync, readSync, closeSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import yauzl from 'yauzl';
import { PytiError } from '@pyti/vm-agent';
import { DEFAULT_DIST_LIMITS, type DistLimits } from './dist-limits.js';
import { guestMemberName, linkStaysInside, unsafeMemberPath } from './member-path.js';
import { linkChainEscape, type ArchiveLink } from './link-chains.js';
import { readTarGz, type TarMember } from './tar-reader.js';
import { checkLocalName, zipMemberName } from './zip-names.js';
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
  const scan = filename.endsWith('.zip') ? await scanZip(path, filename, st.size, limits, 'zip-sdist')
    : kind === 'sdist' ? await scanTarGz(path, filename, st.size, limits) : await scanZip(path, filename, st.size, limits, 'wheel');
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

const TAR_ACCEPTED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'GNUDumpDir', 'SymbolicLink', 'Link']);

/** Counts metadata files as the guest finds them; a second one is refused (the host read the first, the guest kept the last). */
function metadataCounter(filename: string, what: string): (name: string) => void {
  let seen: string | undefined;
  return (name) => {
    if (seen !== undefined) throw new PytiError('PYTI_INPUT_AMBIGUOUS', `${filename}: two ${what} files (${JSON.stringify(seen.slice(0, 200))} and ${JSON.stringify(name.slice(0, 200))}); the host and the guest would read different ones`);
    seen = name;
  };
}

function checkLinkChains(filename: string, links: ArchiveLink[]): void {
  const escape = linkChainEscape(links);
  if (!escape) return;
  const { link, why } = escape;
  throw new PytiError('PYTI_INPUT_UNSAFE_LINK', `${filename}: link ${JSON.stringify(link.name.slice(0, 200))} points outside the archive through other links (${JSON.stringify(link.target.slice(0, 200))}${why === 'loop' ? ', a loop, a chain of more than 40 links, or more link resolution than an archive needs' : ''})`);
}

async function scanTarGz(path: string, filename: string, packed: number, limits: DistLimits, member?: (name: string) => string | null): Promise<Scan> {
  const scan: Scan = { members: 0, unpacked: 0 };
  const links: ArchiveLink[] = [];
  const onePkgInfo = metadataCounter(filename, 'PKG-INFO');
  await readTarGz(path, filename, { maxStreamBytes: limits.maxUnpackedBytes + 1024 * 1024, maxRatio: limits.maxRatio, maxMillis: limits.maxMillis }, {
    member(entry: TarMember): number {
      scan.members++;
      scan.unpacked += entry.size;
      const name = entry.name;
      const why = unsafeMemberPath(name) ?? (member ? member(name) : null);
      if (why) throw new PytiError('PYTI_INPUT_UNSAFE_PATH', `${filename}: member ${JSON.stringify(name.slice(0, 300))} ${why}`);
      if (!TAR_ACCEPTED_TYPES.has(entry.type)) {
        throw new PytiError('PYTI_INPUT_UNSAFE_LINK', `${filename}: member ${JSON.stringify(name.slice(0, 300))} is a ${entry.type}, not a file or directory`);
      }
      if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
        if (!linkStaysInside(name, entry.linkname, entry.type === 'Link')) {
          throw new PytiError('PYTI_INPUT_UNSAFE_LINK', `${filename}: link ${JSON.stringify(name.slice(0, 300))} points outside the archive (${JSON.stringify(entry.linkname.slice(0, 300))})`);
        }
        links.push({ name, target: entry.linkname, hard: entry.type === 'Link' });
      }
      checkTotals(filename, scan.members, scan.unpacked, packed, limits);
      const parts = guestMemberName(name).split('/');
      if (parts.length === 2 && parts[1] === 'PKG-INFO' && REGULAR_TAR_TYPES.has(entry.type)) {
        onePkgInfo(name);
        // The guest reads any size; the host keeps up to 4 MiB (a larger PKG-INFO has no metadata here).
        return entry.size < 4 * 1024 * 1024 ? entry.size : 0;
      }
      return 0;
    },
    data(_entry, data) {
      scan.metadata = data;
    },
  });
  checkLinkChains(filename, links);
  return scan;
}

const REGULAR_TAR_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/** Which zip members are the core metadata, as the guest finds them (names normalized by guestMemberName). */
type ZipLayout = 'wheel' | 'zip-sdist';

function isZipMetadata(layout: ZipLayout, parts: string[]): boolean {
  return parts.length === 2 && (layout === 'wheel' ? parts[0]!.endsWith('.dist-info') && parts[1] === 'METADATA' : parts[1] === 'PKG-INFO');
}

function scanZip(path: string, filename: string, packed: number, limits: DistLimits, layout: ZipLayout): Promise<Scan> {
  const started = Date.now();
  const fd = openSync(path, 'r');
  const closeFd = (): void => {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
  };
  return new Promise<Scan>((resolve, reject) => {
    const scan: Scan = { members: 0, unpacked: 0 };
    const oneMetadata = metadataCounter(filename, layout === 'wheel' ? '*.dist-info/METADATA' : 'PKG-INFO');
    const names = new Set<string>();
    const distInfos = new Set<string>();
    yauzl.open(path, { lazyEntries: true, strictFileNames: false, validateEntrySizes: true, decodeStrings: false }, (err, zip) => {
      if (err || !zip) {
        const msg = String(err?.message ?? err);
        return reject(new PytiError('PYTI_INPUT_MALFORMED', `${filename}: corrupt zip (${msg})`, { cause: err }));
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
      zip.on('error', (e: Error) => done(new PytiError('PYTI_INPUT_MALFORMED', `${filename}: corrupt zip (${e.message})`, { cause: e })));
      zip.on('entry', (entry: yauzl.Entry) => {
        let name: string;
        try {
          const raw = entry.fileName as unknown as Buffer;
          name = zipMemberName(raw, entry.generalPurposeBitFlag, filename);
          (entry as { fileName: string }).fileName = name;
          scan.members++;
          scan.unpacked += entry.uncompressedSize;
          const why = unsafeMemberPath(name);
          if (why) throw new PytiError('PYTI_INPUT_UNSAFE_PATH', `${filename}: member ${JSON.stringify(name.slice(0, 300))} ${why}`);
          const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
          if (mode === 0o120000) throw new PytiError('PYTI_INPUT_UNSAFE_LINK', `${filename}: member ${JSON.stringify(name.slice(0, 300))} is a symbolic link`);
          if (mode !== 0 && mode !== 0o100000 && mode !== 0o040000) throw new PytiError('PYTI_INPUT_UNSAFE_LINK', `${filename}: member ${JSON.stringify(name.slice(0, 300))} is not a file or directory`);
          checkTotals(filename, scan.members, scan.unpacked, packed, limits);
          if (Date.now() - started > limits.maxMillis) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: reading the archive took longer than ${limits.maxMillis} ms`);
          checkLocalName(fd, entry.relativeOffsetOfLocalHeader, raw, filename);
          const norm = guestMemberName(name);
          const parts = norm.split('/');
          const isDir = name.endsWith('/');
          if (layout === 'wheel') {
            if (names.has(norm) && !isDir) throw new PytiError('PYTI_INPUT_AMBIGUOUS', `${filename}: member ${JSON.stringify(norm.slice(0, 300))} occurs twice (readers disagree on which copy counts)`);
            names.add(norm);
            if (parts[0]!.endsWith('.dist-info') && (parts.length > 1 || isDir)) {
              distInfos.add(parts[0]!);
              if (distInfos.size > 1) throw new PytiError('PYTI_INPUT_AMBIGUOUS', `${filename}: two .dist-info directories (${[...distInfos].map((d) => JSON.stringify(d.slice(0, 200))).join(', ')}); a wheel has exactly one`);
            }
          }
          if (!isDir && isZipMetadata(layout, parts)) {
            oneMetadata(name);
            metadataEntry = entry;
          }
        } catch (e) {
          return done(e as Error);
        }
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
            } else if (Date.now() - started > limits.maxMillis) {
              stream.destroy();
              done(new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: reading the archive took longer than ${limits.maxMillis} ms`));
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
  }).finally(closeFd);
}
