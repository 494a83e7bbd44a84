/**
 * BLAKE2b (RFC 7693) with a configurable digest length, unkeyed. Node's crypto offers only the
 * 512-bit variant, and pypi.org publishes `blake2b_256` digests, so the test index computes them here.
 * 64-bit words are held as pairs of 32-bit halves (low, high) in a Uint32Array.
 */

const IV = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
  0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

const v = new Uint32Array(32);
const m = new Uint32Array(32);

/** v[a] += v[b] (64-bit, indices of the low halves). */
function add(a: number, b: number): void {
  const lo = v[a]! + v[b]!;
  let hi = v[a + 1]! + v[b + 1]!;
  if (lo >= 0x100000000) hi++;
  v[a] = lo;
  v[a + 1] = hi;
}

/** v[a] += m[i] (64-bit). */
function addM(a: number, i: number): void {
  const lo = v[a]! + m[i]!;
  let hi = v[a + 1]! + m[i + 1]!;
  if (lo >= 0x100000000) hi++;
  v[a] = lo;
  v[a + 1] = hi;
}

/** v[d] = rotr64(v[d] ^ v[a], n). */
function xorRot(d: number, a: number, n: number): void {
  const lo = v[d]! ^ v[a]!;
  const hi = v[d + 1]! ^ v[a + 1]!;
  if (n === 32) {
    v[d] = hi;
    v[d + 1] = lo;
  } else if (n < 32) {
    v[d] = (lo >>> n) | (hi << (32 - n));
    v[d + 1] = (hi >>> n) | (lo << (32 - n));
  } else {
    const k = n - 32;
    v[d] = (hi >>> k) | (lo << (32 - k));
    v[d + 1] = (lo >>> k) | (hi << (32 - k));
  }
}

function g(a: number, b: number, c: number, d: number, x: number, y: number): void {
  add(a, b);
  addM(a, x);
  xorRot(d, a, 32);
  add(c, d);
  xorRot(b, c, 24);
  add(a, b);
  addM(a, y);
  xorRot(d, a, 16);
  add(c, d);
  xorRot(b, c, 63);
}

function compress(h: Uint32Array, block: Uint8Array, counter: number, last: boolean): void {
  for (let i = 0; i < 16; i++) v[i] = h[i]!;
  for (let i = 0; i < 16; i++) v[16 + i] = IV[i]!;
  v[24] = v[24]! ^ (counter >>> 0);
  v[25] = v[25]! ^ Math.floor(counter / 0x100000000);
  if (last) {
    v[28] = ~v[28]!;
    v[29] = ~v[29]!;
  }
  for (let i = 0; i < 32; i++) {
    m[i] = block[i * 4]! | (block[i * 4 + 1]! << 8) | (block[i * 4 + 2]! << 16) | (block[i * 4 + 3]! << 24);
  }
  for (let r = 0; r < 12; r++) {
    const s = SIGMA[r % 10]!;
    g(0, 8, 16, 24, s[0]! * 2, s[1]! * 2);
    g(2, 10, 18, 26, s[2]! * 2, s[3]! * 2);
    g(4, 12, 20, 28, s[4]! * 2, s[5]! * 2);
    g(6, 14, 22, 30, s[6]! * 2, s[7]! * 2);
    g(0, 10, 20, 30, s[8]! * 2, s[9]! * 2);
    g(2, 12, 22, 24, s[10]! * 2, s[11]! * 2);
    g(4, 14, 16, 26, s[12]! * 2, s[13]! * 2);
    g(6, 8, 18, 28, s[14]! * 2, s[15]! * 2);
  }
  for (let i = 0; i < 16; i++) h[i] = h[i]! ^ v[i]! ^ v[16 + i]!;
}

/** The BLAKE2b digest of `data`, `outBytes` long (1–64; pypi.org's `blake2b_256` is 32), as hex. */
export function blake2bHex(data: Uint8Array, outBytes = 32): string {
  if (!Number.isInteger(outBytes) || outBytes < 1 || outBytes > 64) throw new RangeError(`BLAKE2b digest length ${outBytes} is not 1–64`);
  const h = new Uint32Array(IV);
  h[0] = h[0]! ^ 0x01010000 ^ outBytes;
  const block = new Uint8Array(128);
  let off = 0;
  // Every block but the last is compressed as non-final; the last (possibly empty, zero-padded) one is final.
  while (data.length - off > 128) {
    compress(h, data.subarray(off, off + 128), off + 128, false);
    off += 128;
  }
  block.fill(0);
  block.set(data.subarray(off));
  compress(h, block, data.length, true);
  const out = Buffer.alloc(64);
  for (let i = 0; i < 16; i++) out.writeUInt32LE(h[i]!, i * 4);
  return out.subarray(0, outBytes).toString('hex');
}
