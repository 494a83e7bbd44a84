/**
 * Test kit: tar and zip archives written byte by byte, so a test can build what no well-behaved tool
 * writes (PAX overrides, GNU long names and sparse headers, non-UTF-8 names, zip names that differ
 * between the central directory and the local header). Used only by tests; nothing here is read by
 * PyTI itself.
 */
import { crc32, deflateRawSync } from 'node:zlib';

/** One tar header block (plus data) as written: every field raw. */
export interface TarBlockSpec {
  name: string | Buffer;
  /** Type flag character; default '0'. */
  type?: string;
  data?: string | Buffer;
  /** Size written in the header; default the data's length. */
  size?: number;
  linkname?: string | Buffer;
  /** The ustar prefix field. */
  prefix?: string | Buffer;
}

const bytes = (v: string | Buffer | undefined): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v ?? '', 'utf8'));

/** A ustar header block for `spec` with a correct checksum, followed by its data padded to 512 bytes. */
export function tarBlock(spec: TarBlockSpec): Buffer {
  const h = Buffer.alloc(512);
  const data = bytes(spec.data);
  bytes(spec.name).copy(h, 0, 0, 100);
  h.write('0000644\0', 100, 'latin1');
  h.write('0001750\0', 108, 'latin1');
  h.write('0001750\0', 116, 'latin1');
  h.write(`${(spec.size ?? data.length).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('14712345670\0', 136, 'latin1');
  h.write(spec.type ?? '0', 156, 'latin1');
  bytes(spec.linkname).copy(h, 157, 0, 100);
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  bytes(spec.prefix).copy(h, 345, 0, 155);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** PAX records `key=value` as an extended header's data. */
export function paxData(records: Record<string, string | Buffer>): Buffer {
  const out: Buffer[] = [];
  for (const [k, v] of Object.entries(records)) {
    const body = Buffer.concat([Buffer.from(` ${k}=`), bytes(v), Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len++;
    out.push(Buffer.from(String(len)), body);
  }
  return Buffer.concat(out);
}

/** A local ('x') or global ('g') PAX header block with its records. */
export function paxBlock(records: Record<string, string | Buffer>, type: 'x' | 'g' = 'x'): Buffer {
  return tarBlock({ name: 'PaxHeader', type, data: paxData(records) });
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END = Buffer.alloc(1024);

/** A regular-file member. */
export function tarFile(name: string | Buffer, data: string | Buffer): Buffer {
  return tarBlock({ name, data });
}

/** A zip member as written: the central and local names may differ, and flags are raw. */
export interface RawZipEntry {
  /** The central-directory name. */
  name: string | Buffer;
  /** The local header's name; default the central one. */
  localName?: string | Buffer;
  data?: string | Buffer;
  /** General-purpose flags; bit 11 (0x800) says the name is UTF-8. Default 0x800 for non-ASCII string names. */
  flags?: number;
  mode?: number;
  /** Deflate the data (method 8); false stores it (method 0). Default true. */
  deflate?: boolean;
}

/** A zip of `entries`, in order: deflated unless an entry says `deflate: false`. */
export function rawZip(entries: RawZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const raw = bytes(e.data);
    const method = e.deflate === false ? 0 : 8;
    const data = method === 8 ? deflateRawSync(raw) : raw;
    const n = bytes(e.name);
    const ln = e.localName === undefined ? n : bytes(e.localName);
    const flags = e.flags ?? (typeof e.name === 'string' && /[^\x00-\x7f]/.test(e.name) ? 0x800 : 0);
    const crc = crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(ln.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, ln, data);
    centrals.push(central, n);
    offset += local.length + ln.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
