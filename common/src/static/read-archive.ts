/**
 * Reads the source files of a distribution archive as data, host side, never extracting or running
 * anything: a .tar.gz/.tgz (or plain tar) sdist, a .whl/.zip (wheels and zip sdists, whatever the
 * name says: the kind is sniffed from the magic bytes), or one bare .py file. Only the files the
 * static rules read are kept (.py, .pyw, .pth, PKG-INFO, METADATA, entry_points.txt, setup.cfg,
 * pyproject.toml), within caps; a file cut at its cap, or files left out at the totals, set
 * `truncated` (not an error). Unsafe member names (absolute, `..`, NUL) are skipped.
 */
import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
import { basename } from 'node:path';
import yauzl from 'yauzl';
import { PytiError } from '@pyti/vm-agent';
import { unsafeMemberPath } from '../input/member-path.js';
import { statRegularFile } from '../input/regular-file.js';
import { readTar, type TarMember } from '../input/tar-reader.js';
import { DEFAULT_DIST_LIMITS } from '../input/dist-limits.js';
import type { SourceText } from './scan-sources.js';

/** The static reader's caps. */
export interface ReadCaps {
  /** Bytes kept of one file (the rest is cut). */
  maxFileBytes: number;
  /** Bytes kept in all. */
  maxTotalBytes: number;
  /** Files kept. */
  maxFiles: number;
  /** Archive bytes decompressed before the reader gives up on the rest (bombs). */
  maxStreamBytes: number;
}

/** 2 MiB a file, 32 MiB and 5 000 files in all, 1 GiB of decompressed archive stream. */
export const DEFAULT_READ_CAPS: ReadCaps = { maxFileBytes: 2 * 1024 * 1024, maxTotalBytes: 32 * 1024 * 1024, maxFiles: 5000, maxStreamBytes: 1024 * 1024 * 1024 };

/** What the reader kept. */
export interface ReadResult {
  files: SourceText[];
  bytes: number;
  truncated: boolean;
}

/** Whether the static rules read a member of this name. */
export function wantedMember(name: string): boolean {
  const base = name.slice(name.replace(/\\/g, '/').lastIndexOf('/') + 1);
  return /\.(?:py|pyw|pth)$/i.test(base) || ['PKG-INFO', 'METADATA', 'entry_points.txt', 'setup.cfg', 'pyproject.toml'].includes(base);
}

const decoder = new TextDecoder('utf-8', { fatal: false });

class Collector {
  readonly files: SourceText[] = [];
  bytes = 0;
  truncated = false;
  constructor(readonly caps: ReadCaps) {}
  /** Room for one more file of `size` bytes: how many bytes to keep (0 = skip it). */
  room(name: string, size: number): number {
    if (!wantedMember(name) || unsafeMemberPath(name)) return 0;
    if (this.files.length >= this.caps.maxFiles || this.bytes >= this.caps.maxTotalBytes) {
      this.truncated = true;
      return 0;
    }
    const keep = Math.min(this.caps.maxFileBytes, this.caps.maxTotalBytes - this.bytes);
    if (size > keep) this.truncated = true;
    return keep;
  }
  add(name: string, chunks: Buffer[], keep: number): void {
    let buf = Buffer.concat(chunks);
    if (buf.length > keep) {
      buf = buf.subarray(0, keep);
      this.truncated = true;
    }
    this.bytes += buf.length;
    this.files.push({ path: name.replace(/\\/g, '/').replace(/^\.\//, ''), text: decoder.decode(buf) });
  }
  result(): ReadResult {
    return { files: this.files, bytes: this.bytes, truncated: this.truncated };
  }
}

function magic(path: string, size = 512): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(size);
    const n = readSync(fd, b, 0, size, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Reads the wanted files of the archive (or bare source file) at `path`; throws PYTI_INPUT_NOT_FOUND / PYTI_INPUT_NOT_ARCHIVE. */
export async function readDistribution(path: string, caps: ReadCaps = DEFAULT_READ_CAPS): Promise<ReadResult> {
  const st = statRegularFile(path);
  const m = magic(path);
  const c = new Collector(caps);
  if (m[0]! === 0x50 && m[1]! === 0x4b) await readZip(path, c);
  else if (m[0]! === 0x1f && m[1]! === 0x8b) await readTarFile(path, c, true);
  else if (m.length >= 262 && m.subarray(257, 262).toString('latin1') === 'ustar') await readTarFile(path, c, false);
  else if (/\.pyw?$/i.test(path)) {
    const keep = c.room(basename(path), st.size);
    const chunks: Buffer[] = [];
    let got = 0;
    for await (const d of createReadStream(path, { end: Math.max(0, keep - 1) })) {
      chunks.push(d as Buffer);
      got += (d as Buffer).length;
    }
    if (got) c.add(basename(path), chunks, keep);
  } else throw new PytiError('PYTI_INPUT_NOT_ARCHIVE', `${basename(path)}: neither a gzip/tar nor a zip archive, nor a .py file`);
  return c.result();
}

/**
 * Where the deflate data of a gzip file starts (past its header's optional fields). The data is then
 * inflated raw: that stops at the first member's end, so trailing junk (an HTML error page appended
 * to a real sample) does not lose the end of the archive as gunzip's header check would.
 */
function gzipDataOffset(path: string): number {
  const b = magic(path, 65536);
  const flg = b[3] ?? 0;
  let o = 10;
  if (flg & 4) o += 2 + (b.length >= 12 ? b.readUInt16LE(10) : 0);
  const skipZ = (): void => {
    while (o < b.length && b[o] !== 0) o++;
    o++;
  };
  if (flg & 8) skipZ();
  if (flg & 16) skipZ();
  if (flg & 2) o += 2;
  return o;
}

async function readTarFile(path: string, c: Collector, gzip: boolean): Promise<void> {
  const limits = { maxStreamBytes: c.caps.maxStreamBytes, maxRatio: DEFAULT_DIST_LIMITS.maxRatio, maxMillis: DEFAULT_DIST_LIMITS.maxMillis };
  const kept = new Map<TarMember, number>();
  try {
    await readTar(path, basename(path), limits, {
      member(entry) {
        const keep = entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile' ? c.room(entry.name, entry.size) : 0;
        if (keep) kept.set(entry, keep);
        return keep;
      },
      data(entry, data) {
        const keep = kept.get(entry) ?? 0;
        kept.delete(entry);
        c.add(entry.name, [data], keep);
      },
    }, gzip ? { inflate: 'raw', start: gzipDataOffset(path) } : { inflate: 'none' });
  } catch {
    // corrupt, truncated or refused data, or a cap: keep what was read
    c.truncated = true;
  }
}

function readZip(path: string, c: Collector): Promise<void> {
  return new Promise((resolve) => {
    yauzl.open(path, { lazyEntries: true, strictFileNames: false, validateEntrySizes: true, decodeStrings: true }, (err, zip) => {
      if (err || !zip) {
        c.truncated = true;
        return resolve();
      }
      let finished = false;
      const done = (): void => {
        if (finished) return;
        finished = true;
        try {
          zip.close();
        } catch {
          /* already closed */
        }
        resolve();
      };
      zip.on('error', () => {
        c.truncated = true;
        done();
      });
      zip.on('end', done);
      zip.on('entry', (entry: yauzl.Entry) => {
        const name = entry.fileName;
        const keep = name.endsWith('/') ? 0 : c.room(name, entry.uncompressedSize);
        if (!keep) return zip.readEntry();
        zip.openReadStream(entry, (e2, stream) => {
          if (e2 || !stream) {
            c.truncated = true;
            return zip.readEntry();
          }
          const chunks: Buffer[] = [];
          let got = 0;
          let next = false;
          const go = (): void => {
            if (next) return;
            next = true;
            c.add(name, chunks, keep);
            zip.readEntry();
          };
          stream.on('data', (d: Buffer) => {
            chunks.push(d);
            got += d.length;
            if (got >= keep) {
              c.truncated = c.truncated || got > keep || entry.uncompressedSize > keep;
              stream.destroy();
              go();
            }
          });
          stream.on('error', () => {
            c.truncated = true;
            go();
          });
          stream.on('end', go);
        });
      });
      zip.readEntry();
    });
  });
}
