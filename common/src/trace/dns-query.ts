/**
 * Decoding of a DNS query message (RFC 1035 §4.1) from the payload of a send to port 53, as glibc's
 * resolver sends it (sendmmsg of an A and an AAAA query) or as hand-made code does (sendto, sendmsg,
 * or TCP with a two-byte length prefix).
 *
 * Security: the payload comes from a VM and may be anything; the decoder is total (returns null on
 * anything that is not a well-formed query) and bounded (names at most 255 bytes, no compression
 * pointers followed).
 */

/** The question of a DNS query. */
export interface DnsQuery {
  id: number;
  /** The queried name, dotted, without the trailing dot; bytes outside printable ASCII as `\DDD`. */
  name: string;
  /** The query type's mnemonic (`A`, `AAAA`, `TXT`, …) or `TYPE<n>`. */
  type: string;
}

const TYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA',
  33: 'SRV', 35: 'NAPTR', 43: 'DS', 48: 'DNSKEY', 52: 'TLSA', 64: 'SVCB', 65: 'HTTPS', 99: 'SPF',
  252: 'AXFR', 255: 'ANY', 257: 'CAA',
};

/** A DNS query type's mnemonic. */
export function dnsTypeName(type: number): string {
  return TYPES[type] ?? `TYPE${type}`;
}

function labelText(bytes: Uint8Array, start: number, len: number): string {
  let s = '';
  for (let i = start; i < start + len; i++) {
    const c = bytes[i]!;
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f) s += String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) s += String.fromCharCode(c);
    else s += `\\${c.toString().padStart(3, '0')}`;
  }
  return s;
}

/**
 * Decodes the first question of a DNS query. `tcp` means the message starts with the two-byte
 * length prefix of DNS over TCP. Returns null when the bytes are not a query (QR bit set, no
 * question, malformed or truncated name).
 */
export function decodeDnsQuery(payload: Uint8Array, tcp = false): DnsQuery | null {
  const b = tcp ? payload.subarray(2) : payload;
  if (b.length < 12 + 1 + 4) return null;
  const id = (b[0]! << 8) | b[1]!;
  const flags = (b[2]! << 8) | b[3]!;
  const qdcount = (b[4]! << 8) | b[5]!;
  if (flags & 0x8000 || qdcount < 1) return null; // a response, or no question
  if (((flags >> 11) & 0xf) > 2) return null; // opcode: QUERY, IQUERY or STATUS only
  const labels: string[] = [];
  let i = 12;
  let total = 0;
  for (;;) {
    if (i >= b.length) return null;
    const len = b[i]!;
    if (len === 0) {
      i++;
      break;
    }
    if (len > 63) return null; // compression pointers and extended labels do not belong in a question
    if (i + 1 + len > b.length) return null;
    total += len + 1;
    if (total > 255) return null;
    labels.push(labelText(b, i + 1, len));
    i += 1 + len;
  }
  if (i + 4 > b.length) return null;
  const type = (b[i]! << 8) | b[i + 1]!;
  const qclass = (b[i + 2]! << 8) | b[i + 3]!;
  if (qclass !== 1 && qclass !== 3 && qclass !== 4 && qclass !== 255 && qclass !== 254) return null;
  return { id, name: labels.length ? labels.join('.') : '.', type: dnsTypeName(type) };
}
