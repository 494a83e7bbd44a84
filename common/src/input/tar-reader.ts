/**
 * A bounded reader of .tar.gz archives: it gunzips the file and parses the tar headers itself (ustar,
 * old GNU long names, PAX), so every byte it reads is accounted for. Reading stops at the
 * end-of-archive marker (the first zero block, where the guest's Python `tarfile` stops too; bytes
 * after it are never decompressed), and is refused as soon as the decompressed stream passes the byte
 * limit, expands more than the ratio limit relative to the compressed bytes consumed so far (past
 * 32 MiB: a gzip bomb is caught after ~32 MiB of inflation, whatever it contains), or takes longer
 * than the time limit.
 *
 * Host and guest must read the same members: the reader applies GNU long names and local PAX
 * `path`/`linkpath`/`size` the way `tarfile` does, and refuses (PYTI_INPUT_*) what `tarfile` would
 * read differently or not at all: sparse members (old GNU `S`, PAX `GNU.sparse.*`), global PAX
 * headers that rename or resize members, two extension headers naming one member, non-file
 * members declaring data (tarfile does not skip it), names that are not UTF-8, a bad checksum (where
 * tarfile silently stops), an extension header with no member after it, and a truncated stream.
 */
import { createReadStream } from 'node:fs';
import { createGunzip, createInflateRaw } from 'node:zlib';
import type { Readable } from 'node:stream';
import { PytiError } from '@pyti/vm-agent';
import { BLOCK, TYPE_NAMES, isZeroBlock, nulTerminated, parseHeader, parsePaxRecords, typeHasData, utf8Name, type RawHeader } from './tar-headers.js';

/** A member as the guest's tarfile sees it (overrides applied). */
export interface TarMember {
  /** The real name: ustar prefix + name, a GNU long name, or a PAX `path`. */
  name: string;
  /** Link target (hard or symbolic links), '' otherwise. */
  linkname: string;
  /** node-tar-style type name (`File`, `Directory`, `SymbolicLink`, `Link`, `CharacterDevice`, …). */
  type: string;
  /** The real data size (PAX `size` applied). */
  size: number;
  /** Byte offset of the member's header in the decompressed stream. */
  offset: number;
}

/** Limits of readTarGz. */
export interface TarReadLimits {
  /** Decompressed bytes read at most. */
  maxStreamBytes: number;
  /** Decompressed / compressed bytes consumed, above which (past 32 MiB) the input is a bomb. */
  maxRatio: number;
  /** Wall-clock time to read the whole archive. */
  maxMillis: number;
}

/** Callbacks of readTarGz. `member` returns how many data bytes to keep (0: none); `data` receives them. */
export interface TarVisitor {
  member(m: TarMember): number;
  data?(m: TarMember, data: Buffer): void;
}

/** Extension-header payloads larger than this are refused (a name or PAX record set is never this big). */
const MAX_EXTENSION = 1024 * 1024;
/** Below this much decompressed data the ratio is not checked (small, highly compressible sdists are fine). */
const RATIO_FLOOR = 32 * 1024 * 1024;
/** Compressed bytes read ahead per step: small, so the ratio check sees what was really consumed. */
const READ_CHUNK = 16 * 1024;

interface Pending {
  longName?: Buffer;
  longLink?: Buffer;
  pax?: Map<string, Buffer>;
}

const padded = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

/** A push parser of a tar stream; see the module comment. */
class TarStreamParser {
  ended = false;
  private offset = 0;
  private mode: 'header' | 'extension' | 'body' = 'header';
  private acc: Buffer[] = [];
  private accLen = 0;
  private need = BLOCK;
  private ext?: { flag: string; size: number; at: number };
  private pending: Pending = {};
  private body?: { member: TarMember; kept: boolean; keepLeft: number; chunks: Buffer[]; skip: number };
  members = 0;

  constructor(private readonly filename: string, private readonly visitor: TarVisitor) {}

  write(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && !this.ended) {
      if (this.mode === 'body') {
        const b = this.body!;
        const n = Math.min(b.skip, chunk.length - off);
        const keep = Math.min(n, b.keepLeft);
        if (keep > 0) {
          b.chunks.push(Buffer.from(chunk.subarray(off, off + keep)));
          b.keepLeft -= keep;
        }
        b.skip -= n;
        off += n;
        this.offset += n;
        if (b.skip === 0) this.endBody();
        continue;
      }
      const n = Math.min(this.need - this.accLen, chunk.length - off);
      this.acc.push(chunk.subarray(off, off + n));
      this.accLen += n;
      off += n;
      this.offset += n;
      if (this.accLen === this.need) {
        const block = Buffer.concat(this.acc, this.accLen);
        this.acc = [];
        this.accLen = 0;
        if (this.mode === 'header') this.onHeader(block, this.offset - BLOCK);
        else this.onExtension(block);
      }
    }
  }

  /** The stream ended: throws unless it ended on a header boundary with nothing pending. */
  end(): void {
    if (this.ended) return;
    if (this.mode !== 'header' || this.accLen !== 0) throw new PytiError('PYTI_INPUT_MALFORMED', `${this.filename}: corrupt or truncated archive (unexpected end of data)`);
    this.checkNothingPending();
    if (this.members === 0) throw new PytiError('PYTI_INPUT_MALFORMED', `${this.filename}: the archive is empty`);
    this.ended = true;
  }

  private checkNothingPending(): void {
    if (this.pending.longName || this.pending.longLink || this.pending.pax) {
      throw new PytiError('PYTI_INPUT_MALFORMED', `${this.filename}: an extension header is not followed by a member`);
    }
  }

  private endBody(): void {
    const b = this.body!;
    this.body = undefined;
    this.mode = 'header';
    this.need = BLOCK;
    if (b.kept) this.visitor.data?.(b.member, Buffer.concat(b.chunks));
  }

  private onHeader(block: Buffer, at: number): void {
    if (isZeroBlock(block)) {
      this.checkNothingPending();
      if (this.members === 0) throw new PytiError('PYTI_INPUT_MALFORMED', `${this.filename}: the archive is empty`);
      this.ended = true;
      return;
    }
    const h = parseHeader(block, this.filename, at);
    if (h.flag === 'S') throw new PytiError('PYTI_INPUT_SPARSE', `${this.filename}: member ${JSON.stringify(h.name.toString('latin1').slice(0, 200))} is a GNU sparse file (its stored and real sizes differ)`);
    if (h.flag === 'x' || h.flag === 'X' || h.flag === 'g' || h.flag === 'L' || h.flag === 'K') {
      if (h.size > MAX_EXTENSION) throw new PytiError('PYTI_INPUT_MALFORMED', `${this.filename}: a ${TYPE_NAMES[h.flag]} of ${h.size} bytes`);
      this.ext = { flag: h.flag, size: h.size, at };
      if (h.size === 0) return this.onExtension(Buffer.alloc(0));
      this.mode = 'extension';
      this.need = padded(h.size);
      return;
    }
    this.onMember(h, at);
  }

  private ambiguous(why: string): PytiError {
    return new PytiError('PYTI_INPUT_AMBIGUOUS', `${this.filename}: ${why} (readers disagree on such archives)`);
  }

  private onExtension(block: Buffer): void {
    const { flag, size } = this.ext!;
    const data = block.subarray(0, size);
    this.mode = 'header';
    this.need = BLOCK;
    const p = this.pending;
    if (flag === 'L' || flag === 'K') {
      const key = flag === 'L' ? 'longName' : 'longLink';
      if (p[key]) throw this.ambiguous(`two GNU long ${flag === 'L' ? 'names' : 'link names'} for one member`);
      p[key] = Buffer.from(nulTerminated(data));
    } else {
      const records = parsePaxRecords(data, this.filename);
      for (const key of records.keys()) {
        if (key.startsWith('GNU.sparse.')) throw new PytiError('PYTI_INPUT_SPARSE', `${this.filename}: a PAX header declares a sparse member (${key})`);
      }
      if (flag === 'g') {
        const over = ['path', 'linkpath', 'size'].filter((k) => records.has(k));
        if (over.length) throw this.ambiguous(`a global PAX header sets ${over.join(', ')} for every member`);
        return;
      }
      if (p.pax) throw this.ambiguous('two PAX headers for one member');
      p.pax = new Map([...records].map(([k, v]) => [k, Buffer.from(v)]));
    }
    if (p.pax?.has('path') && p.longName) throw this.ambiguous('a member named both by a PAX path and a GNU long name');
    if (p.pax?.has('linkpath') && p.longLink) throw this.ambiguous('a link target given both by PAX linkpath and a GNU long link name');
  }

  private onMember(h: RawHeader, at: number): void {
    const p = this.pending;
    this.pending = {};
    const f = this.filename;
    let flag = h.flag;
    if (flag === '\0' && h.name.length && h.name[h.name.length - 1] === 0x2f) flag = '5';
    let name = utf8Name(h.name, f, 'member name');
    if (flag === '5') name = name.replace(/\/+$/, '');
    if (h.prefix.length) name = `${utf8Name(h.prefix, f, 'member name prefix')}/${name}`;
    let linkname = utf8Name(h.linkname, f, 'link target');
    if (p.longName) name = utf8Name(p.longName, f, 'GNU long name');
    if (p.longLink) linkname = utf8Name(p.longLink, f, 'GNU long link name');
    let size = h.size;
    const pax = p.pax;
    if (pax) {
      for (const key of ['path', 'linkpath', 'size']) {
        if (pax.get(key)?.length === 0) throw this.ambiguous(`an empty PAX ${key} (some readers unset the key, others keep an empty value)`);
      }
      const path = pax.get('path');
      if (path) name = utf8Name(path, f, 'PAX path').replace(/\/+$/, '');
      const link = pax.get('linkpath');
      if (link) linkname = utf8Name(link, f, 'PAX linkpath');
      const s = pax.get('size');
      if (s) {
        const text = s.toString('latin1');
        if (!/^[0-9]{1,15}$/.test(text)) throw new PytiError('PYTI_INPUT_MALFORMED', `${f}: PAX size ${JSON.stringify(text.slice(0, 40))} is not a number`);
        size = Number(text);
      }
    }
    const type = TYPE_NAMES[flag] ?? `unknown type ${JSON.stringify(flag)}`;
    if (!typeHasData(flag) && (size > 0 || h.size > 0)) {
      throw this.ambiguous(`${type} ${JSON.stringify(name.slice(0, 200))} declares ${Math.max(size, h.size)} bytes of data`);
    }
    this.members++;
    const member: TarMember = { name, linkname, type, size, offset: at };
    const keep = this.visitor.member(member);
    if (!typeHasData(flag) || size === 0) {
      if (keep > 0 && size === 0) this.visitor.data?.(member, Buffer.alloc(0));
      return;
    }
    this.mode = 'body';
    this.body = { member, kept: keep > 0, keepLeft: Math.min(keep, size), chunks: [], skip: padded(size) };
  }
}

/** The result of readTarGz. */
export interface TarRead {
  members: number;
  /** Decompressed bytes read (up to and including the end-of-archive block). */
  streamBytes: number;
}

/** How readTar gets the tar stream from the file: gunzip it (default), inflate raw deflate data from `start`, or read it as is. */
export interface TarSource {
  inflate?: 'gzip' | 'raw' | 'none';
  /** Offset of the compressed (or tar) data in the file. */
  start?: number;
}

/**
 * Reads the .tar.gz at `path`, calling `visitor.member` for every member (in order) and
 * `visitor.data` with the kept bytes of the members it asked for. Throws PytiError (PYTI_INPUT_*),
 * or whatever a visitor throws; the file is closed in every case.
 */
export function readTarGz(path: string, filename: string, limits: TarReadLimits, visitor: TarVisitor): Promise<TarRead> {
  return readTar(path, filename, limits, visitor, { inflate: 'gzip' });
}

/** readTarGz for any TarSource (the static reader also reads plain tar, and raw deflate past a gzip header). */
export async function readTar(path: string, filename: string, limits: TarReadLimits, visitor: TarVisitor, source: TarSource = {}): Promise<TarRead> {
  const started = Date.now();
  const parser = new TarStreamParser(filename, visitor);
  const input = createReadStream(path, { highWaterMark: READ_CHUNK, start: source.start ?? 0 });
  const inflate = source.inflate ?? 'gzip';
  const zlib = inflate === 'none' ? undefined : inflate === 'raw' ? createInflateRaw({ chunkSize: READ_CHUNK }) : createGunzip({ chunkSize: READ_CHUNK });
  const stream: Readable = zlib ?? input;
  if (zlib) {
    input.on('error', (err) => zlib.destroy(err));
    input.pipe(zlib);
  }
  let streamed = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      streamed += chunk.length;
      if (streamed > limits.maxStreamBytes) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: decompresses beyond ${limits.maxStreamBytes} bytes`);
      if (zlib && streamed > RATIO_FLOOR && streamed / Math.max(zlib.bytesWritten, 1) > limits.maxRatio) {
        throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: expands more than ${limits.maxRatio} times its size (a compression bomb)`);
      }
      if (Date.now() - started > limits.maxMillis) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: reading the archive took longer than ${limits.maxMillis} ms`);
      parser.write(chunk);
      if (parser.ended) break;
    }
    parser.end();
  } catch (err) {
    if (err instanceof PytiError) throw err;
    throw new PytiError('PYTI_INPUT_MALFORMED', `${filename}: corrupt or truncated archive (${(err as Error).message})`, { cause: err });
  } finally {
    if (zlib) {
      input.unpipe(zlib);
      zlib.destroy();
    }
    input.destroy();
  }
  return { members: parser.members, streamBytes: streamed };
}
