/**
 * Finds canary values in data that left a process (argv, DNS names, what the sinkhole recorded,
 * files): plain, URL-encoded, and in hex, base64 (standard and URL-safe) and base32 runs at every
 * alignment, two levels deep. A canary matches when any GRAM consecutive characters of it appear.
 */
import type { Canary } from './bait-types.js';

/** Consecutive characters of a canary that count as a match. */
export const GRAM = 12;
/** At most this much of one text is searched. */
const MAX_TEXT = 256 * 1024;
/** At most this many decoded variants per text. */
const MAX_VARIANTS = 400;

/** A compiled canary set. */
export interface CanaryIndex {
  grams: Map<string, string>;
}

/** Indexes canaries by their GRAM-character windows. */
export function indexCanaries(canaries: Canary[]): CanaryIndex {
  const grams = new Map<string, string>();
  for (const c of canaries) {
    if (typeof c.value !== 'string' || c.value.length < GRAM) continue;
    for (let i = 0; i + GRAM <= c.value.length; i++) grams.set(c.value.slice(i, i + GRAM), c.id);
  }
  return { grams };
}

function plainHits(text: string, idx: CanaryIndex, into: Set<string>): void {
  for (let i = 0; i + GRAM <= text.length; i++) {
    const id = idx.grams.get(text.slice(i, i + GRAM));
    if (id) into.add(id);
  }
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32Decode(s: string): Buffer {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of s.toUpperCase()) {
    const v = B32.indexOf(ch);
    if (v < 0) continue;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** Texts decoded out of `text`: URL-decoding, and hex/base64/base32 runs at each alignment. */
function decodings(text: string): string[] {
  const out: string[] = [];
  if (/%[0-9a-fA-F]{2}/.test(text)) out.push(text.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
  for (const m of text.matchAll(/[0-9a-fA-F]{24,}/g)) {
    for (let k = 0; k < 2; k++) out.push(Buffer.from(m[0].slice(k, m[0].length - ((m[0].length - k) % 2)), 'hex').toString('latin1'));
  }
  for (const m of text.matchAll(/[A-Za-z0-9+/_-]{16,}={0,2}/g)) {
    const run = m[0].replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
    for (let k = 0; k < 4; k++) out.push(Buffer.from(run.slice(k), 'base64').toString('latin1'));
  }
  for (const m of text.matchAll(/[A-Za-z2-7]{16,}={0,6}/g)) {
    const run = m[0].replace(/=+$/, '');
    for (let k = 0; k < 8; k++) out.push(base32Decode(run.slice(k)).toString('latin1'));
  }
  return out.slice(0, MAX_VARIANTS);
}

/** The ids of the canaries found in `data` (a string, read as latin1 if bytes). */
export function findCanaries(data: string | Uint8Array, idx: CanaryIndex): string[] {
  if (!idx.grams.size) return [];
  const text = (typeof data === 'string' ? data : Buffer.from(data).toString('latin1')).slice(0, MAX_TEXT);
  const hits = new Set<string>();
  plainHits(text, idx, hits);
  if (hits.size) return [...hits];
  let level = [text];
  for (let depth = 0; depth < 2 && !hits.size; depth++) {
    const next: string[] = [];
    for (const t of level) {
      if (depth > 0 && t.length > 16 * 1024) continue;
      for (const d of decodings(t)) if (d.length >= GRAM) next.push(d);
    }
    for (const d of next) plainHits(d, idx, hits);
    level = next.slice(0, MAX_VARIANTS);
  }
  return [...hits];
}

/** A DNS name's texts: itself, and its labels joined (data split over labels), left to right. */
export function dnsTexts(name: string): string[] {
  const labels = name.split('.');
  return [name, labels.join(''), labels.slice(0, -2).join('')];
}
