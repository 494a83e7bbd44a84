/**
 * Decoding of single tar header blocks and extension-header payloads (ustar, old GNU, PAX), the way
 * the guest's Python `tarfile` decodes them, but strict: where `tarfile` would silently stop, guess or
 * decode bytes it cannot represent, these functions throw a PYTI_INPUT_* error instead. Used by
 * tar-reader.ts; nothing here touches a stream.
 */
import { PytiError } from '@pyti/vm-agent';

export const BLOCK = 512;

/** The member types the readers know, named as node-tar names them (messages and tests rely on them). */
export const TYPE_NAMES: Readonly<Record<string, string>> = Object.freeze({
  '0': 'File', '\0': 'OldFile', '7': 'ContiguousFile', '1': 'Link', '2': 'SymbolicLink', '3': 'CharacterDevice',
  '4': 'BlockDevice', '5': 'Directory', '6': 'FIFO', D: 'GNUDumpDir', S: 'SparseFile', V: 'VolumeLabel', M: 'MultiVolume',
  N: 'OldGnuLongPath', x: 'ExtendedHeader', X: 'SolarisExtendedHeader', g: 'GlobalExtendedHeader', L: 'NextFileHasLongPath',
  K: 'NextFileHasLongLinkpath',
});

/** Types whose header is followed by `size` bytes of data in Python's tarfile (regular files, and types it does not know). */
export function typeHasData(flag: string): boolean {
  return !['1', '2', '3', '4', '5', '6'].includes(flag);
}

/** `buf` up to its first NUL. */
export function nulTerminated(buf: Buffer): Buffer {
  const i = buf.indexOf(0);
  return i < 0 ? buf : buf.subarray(0, i);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * `bytes` quoted for a message: printable ASCII as is (`"` and backslash escaped), every other byte
 * as `\xNN`, at most 200 bytes. A name that is not UTF-8 is shown as the bytes it is (`"caf\xe9.py"`),
 * not as a Latin-1 reading that looks valid, and carries no control character to the terminal.
 */
export function quoteBytes(bytes: Buffer): string {
  let out = '';
  for (const b of bytes.subarray(0, 200)) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `"${out}${bytes.length > 200 ? '…' : ''}"`;
}

/**
 * `bytes` as strict UTF-8. Throws PYTI_INPUT_BAD_NAME otherwise: the guest's tarfile would decode it
 * with surrogate escapes that its JSON output cannot carry (a traceback), and the host could not name it.
 */
export function utf8Name(bytes: Buffer, filename: string, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new PytiError('PYTI_INPUT_BAD_NAME', `${filename}: ${what} ${quoteBytes(bytes)} is not valid UTF-8`);
  }
}

/** A numeric header field: octal text (NUL/space padded) or GNU base-256; throws PYTI_INPUT_MALFORMED. */
export function numericField(field: Buffer, filename: string, what: string): number {
  if (field[0] === 0x80) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    if (!Number.isSafeInteger(n)) throw new PytiError('PYTI_INPUT_MALFORMED', `${filename}: ${what} field out of range`);
    return n;
  }
  if (field[0] === 0xff) throw new PytiError('PYTI_INPUT_MALFORMED', `${filename}: negative ${what} field`);
  const text = nulTerminated(field).toString('latin1').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new PytiError('PYTI_INPUT_MALFORMED', `${filename}: ${what} field ${JSON.stringify(text)} is not octal`);
  return parseInt(text, 8);
}

/** Whether the block is the end-of-archive marker (all zero bytes). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Throws PYTI_INPUT_MALFORMED unless the header's checksum (unsigned or signed sum, as tarfile accepts) matches. */
export function checkChecksum(block: Buffer, filename: string, offset: number): void {
  const stored = numericField(block.subarray(148, 156), filename, 'checksum');
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    unsigned += block[i]!;
    signed += block[i]! > 127 ? block[i]! - 256 : block[i]!;
  }
  if (stored !== unsigned && stored !== signed) throw new PytiError('PYTI_INPUT_MALFORMED', `${filename}: bad tar header checksum at byte ${offset} (not a tar archive, or corrupt)`);
}

/** One parsed header block. Names are still bytes (decoded once overrides are applied). */
export interface RawHeader {
  flag: string;
  size: number;
  name: Buffer;
  linkname: Buffer;
  /** The ustar prefix, which tarfile joins to the name whenever it is not empty (and the type is not GNU's L/K/S). */
  prefix: Buffer;
}

/** Parses a non-zero header block (checksum checked). */
export function parseHeader(block: Buffer, filename: string, offset: number): RawHeader {
  checkChecksum(block, filename, offset);
  const flag = String.fromCharCode(block[156]!);
  return {
    flag,
    size: numericField(block.subarray(124, 136), filename, 'size'),
    name: nulTerminated(block.subarray(0, 100)),
    linkname: nulTerminated(block.subarray(157, 257)),
    prefix: nulTerminated(block.subarray(345, 500)),
  };
}

/**
 * The records of a PAX extended header (`<len> <key>=<value>\n`...), strictly: every length exact,
 * every record newline-terminated, nothing but NUL padding after the last. A key given twice keeps
 * its last value (as tarfile does). Values stay bytes.
 */
export function parsePaxRecords(data: Buffer, filename: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const bad = (why: string): PytiError => new PytiError('PYTI_INPUT_MALFORMED', `${filename}: malformed PAX header (${why})`);
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) {
      for (let i = pos; i < data.length; i++) if (data[i] !== 0) throw bad('data after the padding');
      break;
    }
    const space = data.indexOf(0x20, pos);
    if (space < 0 || space - pos > 12) throw bad('no record length');
    const lenText = data.subarray(pos, space).toString('latin1');
    if (!/^[1-9][0-9]*$/.test(lenText)) throw bad(`record length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    const end = pos + len;
    if (end > data.length || data[end - 1] !== 0x0a) throw bad('a record overruns its length');
    const eq = data.indexOf(0x3d, space + 1);
    if (eq < 0 || eq >= end - 1 || eq === space + 1) throw bad('a record has no key');
    const key = utf8Name(data.subarray(space + 1, eq), filename, 'PAX key');
    out.set(key, data.subarray(eq + 1, end - 1));
    pos = end;
  }
  return out;
}
