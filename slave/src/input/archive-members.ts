/**
 * Reads chosen members of an sdist (.tar.gz, or a legacy .zip: the kind is sniffed from the magic
 * bytes) into memory as text, host side, never extracting anything. Members are named by their path
 * below the archive's top directory (`pkg-1.0/tox.ini` is `tox.ini`); `want` picks them by that path.
 *
 * Caps: a member larger than `maxFileBytes` is skipped (a cut configuration file would mislead), at
 * most `maxFiles` members and `maxTotalBytes` in all are kept, and reading stops after
 * `maxStreamBytes` of decompressed tar stream, or at the bomb ratio or time limit of validateDist (the
 * same bounded reader, tar-reader.ts, stopping at the end-of-archive marker); what was skipped is
 * counted in `skipped`.
 * Unsafe member names (absolute, `..`, NUL) are never kept. A member that occurs twice keeps its last
 * copy, as extraction would.
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { basename } from 'node:path';
import yauzl from 'yauzl';
import { PytiError } from '@pyti/vm-agent';
import { DEFAULT_DIST_LIMITS, readTarGz, type TarMember, unsafeMemberPath } from '@pyti/common';

/** Limits of readArchiveMembers. */
export interface MemberCaps {
  maxFileBytes: number;
  maxFiles: number;
  maxTotalBytes: number;
  maxStreamBytes: number;
}

/** 1 MiB a member, 200 members and 16 MiB in all, 1 GiB of decompressed stream. */
export const DEFAULT_MEMBER_CAPS: Readonly<MemberCaps> = Object.freeze({
  maxFileBytes: 1024 * 1024, maxFiles: 200, maxTotalBytes: 16 * 1024 * 1024, maxStreamBytes: 1024 * 1024 * 1024,
});

/** The members read, by path below the top directory, and how many wanted ones were skipped at a cap. */
export interface ArchiveMembers {
  files: Map<string, string>;
  skipped: number;
}

/** `pkg-1.0/a/b.txt` → `a/b.txt`; null for the top directory itself, a member outside one, or an unsafe name. */
export function memberPathBelowTop(name: string): string | null {
  if (unsafeMemberPath(name)) return null;
  const parts = name.replace(/\\/g, '/').replace(/^\.\//, '').split('/').filter((p) => p && p !== '.');
  return parts.length >= 2 ? parts.slice(1).join('/') : null;
}

function sniff(path: string): 'zip' | 'gzip' | 'other' {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    readSync(fd, b, 0, 2, 0);
    return b[0] === 0x50 && b[1] === 0x4b ? 'zip' : b[0] === 0x1f && b[1] === 0x8b ? 'gzip' : 'other';
  } finally {
    closeSync(fd);
  }
}

class Keeper {
  readonly files = new Map<string, string>();
  bytes = 0;
  skipped = 0;
  constructor(readonly want: (rel: string) => boolean, readonly caps: MemberCaps) {}
  /** The member's path below the top when it is to be read, else null. */
  accept(name: string, size: number): string | null {
    const rel = memberPathBelowTop(name);
    if (rel === null || !this.want(rel)) return null;
    if (size > this.caps.maxFileBytes || (!this.files.has(rel) && this.files.size >= this.caps.maxFiles) || this.bytes + size > this.caps.maxTotalBytes) {
      this.skipped++;
      return null;
    }
    return rel;
  }
  add(rel: string, chunks: Buffer[]): void {
    const buf = Buffer.concat(chunks);
    if (buf.length > this.caps.maxFileBytes) {
      this.skipped++;
      return;
    }
    this.bytes += buf.length;
    this.files.set(rel, buf.toString('utf8'));
  }
}

/** Reads the wanted members of the sdist at `path`; throws PYTI_INPUT_MALFORMED when it cannot be read. */
export async function readArchiveMembers(path: string, want: (rel: string) => boolean, caps: MemberCaps = DEFAULT_MEMBER_CAPS): Promise<ArchiveMembers> {
  const k = new Keeper(want, caps);
  const kind = sniff(path);
  try {
    if (kind === 'zip') await readZip(path, k);
    else if (kind === 'gzip') await readTarMembers(path, k);
    else throw new Error('neither gzip nor zip data');
  } catch (err) {
    throw new PytiError('PYTI_INPUT_MALFORMED', `${path}: cannot read the archive (${(err as Error).message})`, { cause: err });
  }
  return { files: k.files, skipped: k.skipped };
}

async function readTarMembers(path: string, k: Keeper): Promise<void> {
  const limits = { maxStreamBytes: k.caps.maxStreamBytes, maxRatio: DEFAULT_DIST_LIMITS.maxRatio, maxMillis: DEFAULT_DIST_LIMITS.maxMillis };
  const rels = new Map<TarMember, string>();
  await readTarGz(path, basename(path), limits, {
    member(entry) {
      const rel = entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile' ? k.accept(entry.name, entry.size) : null;
      if (rel === null) return 0;
      rels.set(entry, rel);
      return Math.max(entry.size, 1);
    },
    data(entry, data) {
      const rel = rels.get(entry);
      rels.delete(entry);
      if (rel !== undefined) k.add(rel, [data]);
    },
  });
}

function readZip(path: string, k: Keeper): Promise<void> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, strictFileNames: false, validateEntrySizes: true, decodeStrings: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('not a zip archive'));
      let finished = false;
      const end = (e?: Error): void => {
        if (finished) return;
        finished = true;
        try {
          zip.close();
        } catch {
          /* already closed */
        }
        if (e) reject(e);
        else resolve();
      };
      zip.on('error', (e: Error) => end(e));
      zip.on('end', () => end());
      zip.on('entry', (entry: yauzl.Entry) => {
        const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
        const rel = entry.fileName.endsWith('/') || (mode !== 0 && mode !== 0o100000) ? null : k.accept(entry.fileName, entry.uncompressedSize);
        if (rel === null) return zip.readEntry();
        zip.openReadStream(entry, (e2, stream) => {
          if (e2 || !stream) return end(e2 ?? new Error(`cannot read ${entry.fileName}`));
          const chunks: Buffer[] = [];
          stream.on('data', (d: Buffer) => chunks.push(d));
          stream.on('error', (e3: Error) => end(e3));
          stream.on('end', () => {
            k.add(rel, chunks);
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}
