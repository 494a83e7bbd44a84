import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, gzipSync } from 'node:zlib';
import { readDistribution, scanDistribution } from './index.js';

/** A ustar member header + data, written by hand so that hostile names (`..`, absolute) can be made. */
function tarMember(name: string, data: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'latin1');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad]);
}
const tarOf = (members: [string, Buffer | string][]): Buffer =>
  Buffer.concat([...members.map(([n, d]) => tarMember(n, Buffer.isBuffer(d) ? d : Buffer.from(d))), Buffer.alloc(1024)]);

/** A zip of stored (uncompressed) members, written by hand. */
function zipOf(members: [string, string][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let off = 0;
  for (const [name, text] of members) {
    const data = Buffer.from(text);
    const nm = Buffer.from(name);
    const crc = crc32(data);
    const l = Buffer.alloc(30);
    l.writeUInt32LE(0x04034b50, 0); l.writeUInt16LE(20, 4); l.writeUInt32LE(crc, 14); l.writeUInt32LE(data.length, 18); l.writeUInt32LE(data.length, 22); l.writeUInt16LE(nm.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0); c.writeUInt16LE(20, 4); c.writeUInt16LE(20, 6); c.writeUInt32LE(crc, 16); c.writeUInt32LE(data.length, 20); c.writeUInt32LE(data.length, 24); c.writeUInt16LE(nm.length, 28); c.writeUInt32LE(off, 42);
    locals.push(l, nm, data);
    centrals.push(c, nm);
    off += 30 + nm.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0); e.writeUInt16LE(members.length, 8); e.writeUInt16LE(members.length, 10); e.writeUInt32LE(cd.length, 12); e.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, e]);
}

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'pyti-static-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EVIL_SETUP = "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n";

describe('scanDistribution', () => {
  it('reads an sdist and reports its findings with archive paths', async () => {
    const p = join(dir, 'evil-1.0.tar.gz');
    writeFileSync(p, gzipSync(tarOf([['evil-1.0/PKG-INFO', 'Name: evil\nVersion: 1.0\n'], ['evil-1.0/setup.py', EVIL_SETUP], ['evil-1.0/README.md', 'not read']])));
    const s = await scanDistribution(p);
    expect(s.files).toBe(2);
    expect(s.truncated).toBe(false);
    expect(s.findings.find((f) => f.rule === 'exec-decoded')?.sources?.[0]?.file).toBe('evil-1.0/setup.py');
  });

  it('sniffs a wheel stored under a .tar.gz name, and reads .zip sdists', async () => {
    const w = join(dir, 'fake-1.0.tar.gz');
    writeFileSync(w, zipOf([['fake/__init__.py', EVIL_SETUP], ['fake-1.0.dist-info/METADATA', 'Name: fake\nVersion: 1.0\n']]));
    expect((await scanDistribution(w)).findings.some((f) => f.rule === 'exec-decoded')).toBe(true);
    const z = join(dir, 'zipped-1.0.zip');
    writeFileSync(z, zipOf([['zipped-1.0/setup.py', EVIL_SETUP], ['zipped-1.0/PKG-INFO', 'Name: zipped\nVersion: 1.0\n']]));
    expect((await scanDistribution(z)).findings.some((f) => f.rule === 'exec-decoded' && f.sources?.[0]?.file === 'zipped-1.0/setup.py')).toBe(true);
  });

  it('survives a hostile archive: huge file, many files, non-UTF-8 text, .. and absolute paths, truncated data', async () => {
    const huge = Buffer.alloc(3 * 1024 * 1024, 0x41);
    const many: [string, string][] = Array.from({ length: 60 }, (_, i) => [`h-1.0/m${i}.py`, 'x = 1\n']);
    const tar = tarOf([
      ['h-1.0/PKG-INFO', 'Name: h\nVersion: 1.0\n'],
      ['h-1.0/big.py', huge],
      ['../escape.py', EVIL_SETUP],
      ['/abs/setup.py', EVIL_SETUP],
      ['h-1.0/latin.py', Buffer.from([0x78, 0x3d, 0xe9, 0xff, 0xfe, 0x0a])],
      ...many,
    ]);
    const p = join(dir, 'h-1.0.tar.gz');
    writeFileSync(p, gzipSync(tar));
    const r = await readDistribution(p, { maxFileBytes: 2 * 1024 * 1024, maxTotalBytes: 32 * 1024 * 1024, maxFiles: 40, maxStreamBytes: 1 << 30 });
    expect(r.truncated).toBe(true);
    expect(r.files).toHaveLength(40);
    expect(r.files.find((f) => f.path === 'h-1.0/big.py')?.text.length).toBe(2 * 1024 * 1024);
    expect(r.files.some((f) => f.path.includes('..') || f.path.startsWith('/'))).toBe(false);
    expect(r.files.find((f) => f.path === 'h-1.0/latin.py')?.text).toContain('\ufffd');
    // cut half-way: what was read is kept
    const cut = join(dir, 'cut-1.0.tar.gz');
    writeFileSync(cut, gzipSync(tar).subarray(0, 4000));
    const c = await scanDistribution(cut);
    expect(c.truncated).toBe(true);
    // not an archive at all
    const junk = join(dir, 'junk-1.0.tar.gz');
    writeFileSync(junk, 'hello');
    await expect(scanDistribution(junk)).rejects.toMatchObject({ code: 'PYTI_INPUT_NOT_ARCHIVE' });
  });

  it('reads one bare .py file', async () => {
    const p = join(dir, 'setup.py');
    writeFileSync(p, EVIL_SETUP);
    const s = await scanDistribution(p);
    expect(s.files).toBe(1);
    expect(s.findings.some((f) => f.rule === 'exec-decoded')).toBe(true);
  });
});
