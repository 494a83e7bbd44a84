/**
 * Zip member names read the way the guest's Python `zipfile` reads them: the central directory's
 * raw bytes, UTF-8 when general-purpose flag bit 11 is set, else plain ASCII (zipfile would decode
 * other bytes as cp437, which the host refuses rather than guess at); the Info-ZIP Unicode Path extra
 * field is ignored, as zipfile ignores it. Each central name must equal its local header's name:
 * zipfile refuses a mismatch only when it opens the member, after the host has judged the archive.
 */
import { readSync } from 'node:fs';
import { PytiError } from '@pyti/vm-agent';
import { quoteBytes, utf8Name } from './tar-headers.js';

/** The member's name from its raw central-directory bytes; throws PYTI_INPUT_BAD_NAME. */
export function zipMemberName(raw: Buffer, flags: number, filename: string): string {
  if (flags & 0x800) return utf8Name(raw, filename, 'zip member name (flagged UTF-8)');
  for (const b of raw) {
    if (b >= 0x80) throw new PytiError('PYTI_INPUT_BAD_NAME', `${filename}: zip member name ${quoteBytes(raw)} is not ASCII and not flagged UTF-8`);
  }
  return raw.toString('latin1');
}

/** Throws PYTI_INPUT_AMBIGUOUS (or _MALFORMED) unless the local header at `offset` in the open file `fd` names `raw`. */
export function checkLocalName(fd: number, offset: number, raw: Buffer, filename: string): void {
  const head = Buffer.alloc(30);
  if (readSync(fd, head, 0, 30, offset) !== 30 || head.readUInt32LE(0) !== 0x04034b50) {
    throw new PytiError('PYTI_INPUT_MALFORMED', `${filename}: corrupt zip (no local header for ${JSON.stringify(raw.toString('latin1').slice(0, 200))})`);
  }
  const len = head.readUInt16LE(26);
  const local = Buffer.alloc(len);
  if (readSync(fd, local, 0, len, offset + 30) !== len || !local.equals(raw)) {
    throw new PytiError('PYTI_INPUT_AMBIGUOUS', `${filename}: zip member ${JSON.stringify(raw.toString('latin1').slice(0, 200))} is named ${JSON.stringify(local.toString('latin1').slice(0, 200))} in its local header (readers disagree on such archives)`);
  }
}
