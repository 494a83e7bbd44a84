import { decodeDnsQuery } from './dns-query.js';
import { decodeEscapes, readQuoted, readQuotedText } from './c-string.js';

/** A query as the resolver builds it. */
function query(name: string, type: number, id = 0x1234, flags = 0x0100): Uint8Array {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l, 'latin1')]);
  return Uint8Array.from([id >> 8, id & 0xff, flags >> 8, flags & 0xff, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, type >> 8, type & 0xff, 0, 1]);
}

describe('DNS query decoding', () => {
  it('decodes the question of a query as glibc sends it (captured line)', () => {
    // From net.strace: sendmmsg(...iov_base="\312\307\1\0\0\1\0\0\0\0\0\0\npyti-exfil\7invalid\0\0\1\0\1"...)
    const bytes = decodeEscapes('\\312\\307\\1\\0\\0\\1\\0\\0\\0\\0\\0\\0\\npyti-exfil\\7invalid\\0\\0\\1\\0\\1');
    expect(decodeDnsQuery(bytes)).toEqual({ id: 0xcac7, name: 'pyti-exfil.invalid', type: 'A' });
  });

  it('handles TCP framing and type names', () => {
    const q = query('tcp-q.example.invalid', 15);
    expect(decodeDnsQuery(Uint8Array.from([0, q.length, ...q]), true)).toMatchObject({ name: 'tcp-q.example.invalid', type: 'MX' });
    expect(decodeDnsQuery(query('x.invalid', 28))!.type).toBe('AAAA');
    expect(decodeDnsQuery(query('x.invalid', 4242))!.type).toBe('TYPE4242');
  });

  it('escapes bytes that are not plain name characters', () => {
    expect(decodeDnsQuery(query('a\u0000b.c d.invalid', 1))!.name).toBe('a\\000b.c\\032d.invalid');
  });

  it('rejects what is not a well-formed query', () => {
    expect(decodeDnsQuery(query('x.invalid', 1, 1, 0x8180))).toBeNull(); // a response
    expect(decodeDnsQuery(Buffer.from('hello "world"\n'))).toBeNull();
    expect(decodeDnsQuery(new Uint8Array(0))).toBeNull();
    const q = query('abc.invalid', 1);
    expect(decodeDnsQuery(q.subarray(0, q.length - 3))).toBeNull(); // truncated
    const ptr = Uint8Array.from(q);
    ptr[12] = 0xc0; // a compression pointer in the question
    expect(decodeDnsQuery(ptr)).toBeNull();
    const bad = Uint8Array.from(q);
    bad[12] = 40; // label longer than the message
    expect(decodeDnsQuery(bad)).toBeNull();
    const long = query(Array(10).fill('a'.repeat(60)).join('.'), 1); // name over 255 bytes
    expect(decodeDnsQuery(long)).toBeNull();
  });
});

describe('C string decoding', () => {
  it('decodes strace escapes: simple, octal (1-3 digits), hex', () => {
    expect(Buffer.from(decodeEscapes('a\\tb\\n\\"\\\\\\0\\1\\377\\x41')).toString('latin1')).toBe('a\tb\n"\\\0\x01\xffA');
    expect([...decodeEscapes('\\0224')]).toEqual([0o22, 0x34]); // "\0224" = 022 then '4'
    expect([...decodeEscapes('\\1234')]).toEqual([0o123, 0x34]);
  });

  it('reads quoted strings with their end and truncation marker', () => {
    expect(readQuoted('"ab\\"c", 3', 0)).toMatchObject({ truncated: false, end: 7 });
    expect(readQuotedText('"abc"..., 512', 0)).toEqual({ value: 'abc...', truncated: true, end: 8 });
    expect(readQuotedText('"we\\"ird\\n\\303\\251.txt")', 0)!.value).toBe('we"ird\né.txt');
    expect(readQuoted('"not closed', 0)).toBeNull();
    expect(readQuoted('x"', 0)).toBeNull();
  });
});
