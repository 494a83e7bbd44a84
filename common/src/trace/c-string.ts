/**
 * Decoding of strace's C-style quoted strings: `"a\tb\303\251\0"` and the truncation marker
 * `"..."...` that strace prints when a string is longer than `-s`.
 *
 * Input is one line of a trace decoded as latin1, so each character is one byte of the original
 * output. Security: the text comes from a VM and is untrusted; every function here is total (never
 * throws, never reads past the end of the line) and linear in the input.
 */

/** A quoted string read from a trace line. */
export interface QuotedString {
  /** The string's bytes, escapes decoded. */
  bytes: Uint8Array;
  /** Whether strace truncated it (`"..."...`). */
  truncated: boolean;
  /** Index in the line just after the string (and its `...` marker). */
  end: number;
}

const SIMPLE_ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, f: 12, a: 7, b: 8, e: 27, '\\': 92, '"': 34, "'": 39, '?': 63 };

const isOctal = (c: number): boolean => c >= 48 && c <= 55;
const hexVal = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);

/**
 * Decodes C escapes in `text[start, end)` into bytes. Octal escapes take up to three digits (strace
 * pads to three when a digit follows), `\xHH` up to two hex digits. An unknown escape keeps the
 * character after the backslash.
 */
export function decodeEscapes(text: string, start = 0, end = text.length): Uint8Array {
  const out = new Uint8Array(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c !== 92 || i + 1 >= end) {
      out[n++] = c & 0xff;
      continue;
    }
    const d = text.charCodeAt(++i);
    if (isOctal(d)) {
      let v = d - 48;
      for (let k = 0; k < 2 && i + 1 < end && isOctal(text.charCodeAt(i + 1)); k++) v = v * 8 + (text.charCodeAt(++i) - 48);
      out[n++] = v & 0xff;
    } else if (d === 120 /* x */ && i + 1 < end && hexVal(text.charCodeAt(i + 1)) >= 0) {
      let v = hexVal(text.charCodeAt(++i));
      if (i + 1 < end && hexVal(text.charCodeAt(i + 1)) >= 0) v = v * 16 + hexVal(text.charCodeAt(++i));
      out[n++] = v;
    } else {
      out[n++] = SIMPLE_ESCAPES[String.fromCharCode(d)] ?? (d & 0xff);
    }
  }
  return out.subarray(0, n);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Bytes as text: UTF-8, with invalid sequences replaced by U+FFFD. */
export function bytesToText(bytes: Uint8Array): string {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return utf8.decode(bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

/**
 * Finds the end of the quoted string whose opening quote is at `start`: returns the index of the
 * closing quote, or -1 when the line ends first (a cut line).
 */
export function closingQuote(text: string, start: number): number {
  for (let q = text.indexOf('"', start + 1); q >= 0; q = text.indexOf('"', q + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return q; // not itself escaped
  }
  return -1;
}

/**
 * Reads the quoted string whose opening quote is at `text[start]`. Returns null when `text[start]`
 * is not a quote or the string is not closed on this line.
 */
export function readQuoted(text: string, start: number): QuotedString | null {
  if (text.charCodeAt(start) !== 34) return null;
  const close = closingQuote(text, start);
  if (close < 0) return null;
  const truncated = text.startsWith('...', close + 1);
  return { bytes: decodeEscapes(text, start + 1, close), truncated, end: close + 1 + (truncated ? 3 : 0) };
}

/**
 * Reads a quoted string as text (see readQuoted). A truncated string gets `...` appended, so a
 * user sees that the path or argument is not complete.
 */
export function readQuotedText(text: string, start: number): { value: string; truncated: boolean; end: number } | null {
  if (text.charCodeAt(start) !== 34) return null;
  const close = closingQuote(text, start);
  if (close < 0) return null;
  const truncated = text.startsWith('...', close + 1);
  // Fast path: no escapes and plain ASCII.
  let plain = true;
  for (let i = start + 1; i < close; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 || c >= 0x80) {
      plain = false;
      break;
    }
  }
  const body = plain ? text.slice(start + 1, close) : bytesToText(decodeEscapes(text, start + 1, close));
  return { value: truncated ? `${body}...` : body, truncated, end: close + 1 + (truncated ? 3 : 0) };
}
