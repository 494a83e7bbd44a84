import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { validateDist, validateTarGz } from './validate-dist.js';
import { readTarGz } from './tar-reader.js';
import { TAR_END, paxBlock, rawZip, tarBlock, tarFile } from './hostile-archive-kit.js';

const PKG_INFO = 'Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\n\n';
const METADATA = PKG_INFO;
let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'pyti-hostile-kit-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, data: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

/** A .tar.gz sdist of the given blocks (a PKG-INFO first, the end marker last). */
function sdist(name: string, ...blocks: Buffer[]): string {
  return write(name, gzipSync(Buffer.concat([tarFile('hostile-1.0/PKG-INFO', PKG_INFO), ...blocks, TAR_END])));
}

async function refusal(path: string): Promise<PytiError> {
  try {
    await validateDist(path);
  } catch (err) {
    expect(err).toBeInstanceOf(PytiError);
    return err as PytiError;
  }
  throw new Error(`${path} was accepted`);
}

/** What Python's tarfile (the guest's reader) lists: [name, size] per member, or its error. */
function pythonMembers(path: string): [string, number][] | string {
  const out = execFileSync('python3', ['-c', `
import json, sys, tarfile
try:
    with tarfile.open(sys.argv[1]) as tf:
        print(json.dumps([[m.name, m.size] for m in tf.getmembers()]))
except Exception as e:
    print(json.dumps("error: %s" % e))
`, path]).toString();
  return JSON.parse(out) as [string, number][] | string;
}

async function hostMembers(path: string): Promise<[string, number][]> {
  const seen: [string, number][] = [];
  await readTarGz(path, 'x.tar.gz', { maxStreamBytes: 1 << 30, maxRatio: 200, maxMillis: 60_000 }, {
    member: (m) => {
      seen.push([m.name, m.size]);
      return 0;
    },
  });
  return seen;
}

describe('host and guest read a tar the same way', () => {
  it('a PAX path override is the name checked: ../../../tmp/x behind a harmless ustar name is refused', async () => {
    const path = sdist('paxpath-1.0.tar.gz', paxBlock({ path: '../../../tmp/x' }), tarFile('hostile-1.0/harmless.txt', 'x'));
    expect(pythonMembers(path)).toContainEqual(['../../../tmp/x', 1]);
    const err = await refusal(path);
    expect(err.code).toBe('PYTI_INPUT_UNSAFE_PATH');
    expect(err.message).toContain('../../../tmp/x');
  });

  it('a ustar prefix field is part of the name (tarfile joins it whatever the magic says)', async () => {
    const err = await refusal(sdist('prefix-1.0.tar.gz', tarBlock({ name: 'x', prefix: '../../etc', data: 'x' })));
    expect(err).toMatchObject({ code: 'PYTI_INPUT_UNSAFE_PATH', message: expect.stringContaining('../../etc/x') });
  });

  it('a PAX size override decides where the next header is: the host lists exactly the members tarfile lists', async () => {
    // The ustar header says 0 bytes; PAX says 1024, and those bytes hold a header tarfile never reads.
    const hidden = Buffer.concat([tarFile('hostile-1.0/../../evil', 'x'), Buffer.alloc(0)]);
    const data = Buffer.concat([hidden, Buffer.alloc(1024 - hidden.length, 0x61)]);
    const path = sdist('paxsize-1.0.tar.gz', paxBlock({ size: '1024' }), tarBlock({ name: 'hostile-1.0/data.bin', data, size: 0 }), tarFile('hostile-1.0/after.txt', 'ok'));
    const py = pythonMembers(path);
    expect(py).toEqual([['hostile-1.0/PKG-INFO', PKG_INFO.length], ['hostile-1.0/data.bin', 1024], ['hostile-1.0/after.txt', 2]]);
    expect(await hostMembers(path)).toEqual(py);
    expect(await validateDist(path)).toMatchObject({ name: 'hostile', members: 3, unpackedBytes: PKG_INFO.length + 1024 + 2 });
  });

  it('GNU long names and bytes after the end-of-archive marker: the host lists what tarfile lists', async () => {
    const long = `hostile-1.0/${'d'.repeat(120)}/f.py`;
    const raw = Buffer.concat([tarFile('hostile-1.0/PKG-INFO', PKG_INFO), tarBlock({ name: '././@LongLink', type: 'L', data: `${long}\0` }), tarFile('ignored', 'x'),
      TAR_END, tarFile('hostile-1.0/../../after-the-end', 'x'), TAR_END]);
    const path = write('gnulong-1.0.tar.gz', gzipSync(raw));
    const py = pythonMembers(path);
    expect(py).toEqual([['hostile-1.0/PKG-INFO', PKG_INFO.length], [long, 1]]);
    expect(await hostMembers(path)).toEqual(py);
    expect((await validateDist(path)).members).toBe(2);
  });

  it.each([
    ['old GNU sparse member', () => [tarBlock({ name: 'hostile-1.0/sparse', type: 'S', data: 'x' })], 'PYTI_INPUT_SPARSE', /sparse/],
    ['PAX GNU.sparse.map', () => [paxBlock({ 'GNU.sparse.map': '0,1', 'GNU.sparse.size': '1' }), tarFile('hostile-1.0/s', 'x')], 'PYTI_INPUT_SPARSE', /GNU\.sparse/],
    ['PAX 1.0 sparse (GNU.sparse.major)', () => [paxBlock({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': '../x' }), tarFile('hostile-1.0/s', 'x')], 'PYTI_INPUT_SPARSE', /sparse/],
    ['a global PAX path for every member', () => [paxBlock({ path: 'hostile-1.0/other' }, 'g'), tarFile('hostile-1.0/a', 'x')], 'PYTI_INPUT_AMBIGUOUS', /global PAX header sets path/],
    ['a global PAX size', () => [paxBlock({ size: '0' }, 'g'), tarFile('hostile-1.0/a', 'x')], 'PYTI_INPUT_AMBIGUOUS', /global PAX header sets size/],
    ['a PAX path and a GNU long name for one member', () => [paxBlock({ path: 'hostile-1.0/a' }), tarBlock({ name: '././@LongLink', type: 'L', data: 'hostile-1.0/b\0' }), tarFile('c', 'x')], 'PYTI_INPUT_AMBIGUOUS', /both by a PAX path and a GNU long name/],
    ['two PAX headers for one member', () => [paxBlock({ path: 'hostile-1.0/a' }), paxBlock({ path: 'hostile-1.0/b' }), tarFile('c', 'x')], 'PYTI_INPUT_AMBIGUOUS', /two PAX headers/],
    ['an empty PAX path', () => [paxBlock({ path: '' }), tarFile('hostile-1.0/a', 'x')], 'PYTI_INPUT_AMBIGUOUS', /empty PAX path/],
    ['a PAX size that is not a number (tarfile reads 0)', () => [paxBlock({ size: '12abc' }), tarFile('hostile-1.0/a', 'x')], 'PYTI_INPUT_MALFORMED', /PAX size/],
    ['a directory declaring data (tarfile reads it as headers)', () => [tarBlock({ name: 'hostile-1.0/d/', type: '5', data: 'x'.repeat(600) })], 'PYTI_INPUT_AMBIGUOUS', /Directory .* declares 600 bytes/],
    ['a duplicate PKG-INFO under another top directory (the guest keeps the last)', () => [tarFile('other-2.0/PKG-INFO', PKG_INFO.replace('hostile', 'other'))], 'PYTI_INPUT_AMBIGUOUS', /two PKG-INFO/],
    ['the same PKG-INFO twice, once as ./hostile-1.0/./PKG-INFO', () => [tarFile('./hostile-1.0/./PKG-INFO', PKG_INFO)], 'PYTI_INPUT_AMBIGUOUS', /two PKG-INFO/],
    ['a latin-1 member name', () => [tarFile(Buffer.from('hostile-1.0/caf\xe9.py', 'latin1'), 'x')], 'PYTI_INPUT_BAD_NAME', /member name "hostile-1\.0\/caf\\xe9\.py" is not valid UTF-8/],
    ['a non-UTF-8 PAX path', () => [paxBlock({ path: Buffer.from('hostile-1.0/\xff', 'latin1') }), tarFile('hostile-1.0/a', 'x')], 'PYTI_INPUT_BAD_NAME', /PAX path/],
    ['a symlink chain above the root (up -> .., up2 -> up/..)', () => [tarBlock({ name: 'hostile-1.0/up', type: '2', linkname: '..' }), tarBlock({ name: 'hostile-1.0/up2', type: '2', linkname: 'up/..' })], 'PYTI_INPUT_UNSAFE_LINK', /through other links/],
    ['a hard link through a symlink above the root', () => [tarBlock({ name: 'hostile-1.0/up', type: '2', linkname: '..' }), tarBlock({ name: 'hostile-1.0/h', type: '1', linkname: 'hostile-1.0/up/../x' })], 'PYTI_INPUT_UNSAFE_LINK', /through other links/],
    ['a symlink loop', () => [tarBlock({ name: 'hostile-1.0/a', type: '2', linkname: 'b' }), tarBlock({ name: 'hostile-1.0/b', type: '2', linkname: 'a' })], 'PYTI_INPUT_UNSAFE_LINK', /loop/],
    ['a corrupt header checksum after the first member (tarfile silently stops there)', () => {
      const b = tarFile('hostile-1.0/../../x', 'x');
      b[0] = 0x7a;
      return [b];
    }, 'PYTI_INPUT_MALFORMED', /checksum/],
    ['an extension header with no member after it', () => [paxBlock({ path: 'hostile-1.0/a' })], 'PYTI_INPUT_MALFORMED', /not followed by a member/],
  ])('%s → %s', async (_what, blocks, code, message) => {
    const path = sdist(`case-${code}-${Math.random().toString(36).slice(2)}-1.0.tar.gz`, ...blocks());
    const err = await refusal(path);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('links that stay inside through other links are accepted', async () => {
    const path = sdist('links-ok-1.0.tar.gz', tarBlock({ name: 'hostile-1.0/sub/up', type: '2', linkname: '..' }), tarBlock({ name: 'hostile-1.0/sub/x', type: '2', linkname: 'up/PKG-INFO' }));
    expect((await validateDist(path)).members).toBe(3);
  });
});

describe('host and guest read a zip the same way', () => {
  const md = { name: 'hostile-1.0.dist-info/METADATA', data: METADATA };
  it.each([
    ['a central name that differs from the local header', [md, { name: 'hostile/a.py', localName: '../../../a.py', data: 'x' }], 'PYTI_INPUT_AMBIGUOUS', /local header/],
    ['two .dist-info directories', [md, { name: 'other-2.0.dist-info/METADATA', data: METADATA.replace('hostile', 'other') }], 'PYTI_INPUT_AMBIGUOUS', /two \.dist-info/],
    ['a METADATA twice', [md, { ...md, data: METADATA.replace('1.0', '6.6.6') }], 'PYTI_INPUT_AMBIGUOUS', /occurs twice/],
    ['a name flagged UTF-8 that is not (a guest traceback before)', [md, { name: Buffer.from('hostile/caf\xe9.py', 'latin1'), flags: 0x800, data: 'x' }], 'PYTI_INPUT_BAD_NAME', /flagged UTF-8\) "hostile\/caf\\xe9\.py" is not valid UTF-8/],
    ['a non-ASCII name not flagged UTF-8', [md, { name: Buffer.from('hostile/caf\xc3\xa9.py', 'latin1'), flags: 0, data: 'x' }], 'PYTI_INPUT_BAD_NAME', /"hostile\/caf\\xc3\\xa9\.py" is not ASCII and not flagged UTF-8/],
  ])('%s → %s', async (_what, entries, code, message) => {
    const err = await refusal(write(`z${Math.random().toString(36).slice(2)}-1.0-py3-none-any.whl`, rawZip(entries)));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('two PKG-INFO in a zip sdist (under two top directories) are refused; a UTF-8 flagged name is read', async () => {
    const two = write('zipsd-1.0.zip', rawZip([{ name: 'zipsd-1.0/PKG-INFO', data: PKG_INFO }, { name: 'other/PKG-INFO', data: PKG_INFO }]));
    expect((await refusal(two)).code).toBe('PYTI_INPUT_AMBIGUOUS');
    const ok = write('hostile-1.0-py3-none-any.whl', rawZip([{ name: 'hostile/café.py', data: 'x' }, md]));
    expect(await validateDist(ok)).toMatchObject({ name: 'hostile', members: 2 });
  });
});

describe('validation is bounded for any input', () => {
  /** A gzip of `total` zeros built from concatenated gzip members (what gunzip and Python's gzip both read), after `head`. */
  function zerosGz(head: Buffer, totalMiB: number): Buffer {
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    return Buffer.concat([gzipSync(head), ...Array.from({ length: Math.ceil(totalMiB / 64) }, () => member)]);
  }

  async function cpuMillis(f: () => Promise<unknown>): Promise<{ ms: number; result: unknown }> {
    const before = process.cpuUsage();
    let result: unknown;
    try {
      result = await f();
    } catch (err) {
      result = err;
    }
    const used = process.cpuUsage(before);
    return { ms: (used.user + used.system) / 1000, result };
  }

  it('1 GiB of zeros after the end-of-archive marker (a 1 MB file) is never decompressed: accepted in well under a second of CPU', async () => {
    const head = Buffer.concat([tarFile('hostile-1.0/PKG-INFO', PKG_INFO), TAR_END]);
    const path = write('trailing-1.0.tar.gz', zerosGz(head, 1024));
    const { ms, result } = await cpuMillis(() => validateDist(path));
    expect(result).toMatchObject({ name: 'hostile', members: 1 });
    expect(ms).toBeLessThan(500);
    const git = await cpuMillis(() => validateTarGz(path));
    expect(git.result).toMatchObject({ members: 1 });
    expect(git.ms).toBeLessThan(500);
  });

  it('a 1 MB bomb inside a member (150 MiB declared, below the declared-size ratio; 1 GiB of zeros) is refused after ~32 MiB, in well under a second of CPU', async () => {
    const head = Buffer.concat([tarFile('hostile-1.0/PKG-INFO', PKG_INFO), tarBlock({ name: 'hostile-1.0/zeros', size: 150 * 1024 * 1024 })]);
    const path = write('bomb-1.0.tar.gz', zerosGz(head, 1024));
    for (const check of [() => validateDist(path), () => validateTarGz(path)]) {
      const { ms, result } = await cpuMillis(check);
      expect(result).toMatchObject({ code: 'PYTI_INPUT_TOO_LARGE', message: expect.stringMatching(/compression bomb/) });
      expect(ms).toBeLessThan(800);
    }
  });

  it('zeros with no tar entry at all (the 392 KB upload of 90 MB zeros) are refused at once, not after minutes', async () => {
    const path = write('zeros-1.0.tar.gz', zerosGz(Buffer.alloc(0), 128));
    const { ms, result } = await cpuMillis(() => validateDist(path));
    expect(result).toMatchObject({ code: 'PYTI_INPUT_MALFORMED', message: expect.stringMatching(/empty/) });
    expect(ms).toBeLessThan(500);
  });

  it('a zip bomb (200 MiB of zeros in a 200 KB wheel) is refused before it is inflated', async () => {
    const path = write('zbomb-1.0-py3-none-any.whl', rawZip([{ name: 'hostile-1.0.dist-info/METADATA', data: METADATA }, { name: 'hostile/zeros.bin', data: Buffer.alloc(200 * 1024 * 1024) }]));
    const { ms, result } = await cpuMillis(() => validateDist(path));
    expect(result).toMatchObject({ code: 'PYTI_INPUT_TOO_LARGE', message: expect.stringMatching(/compression bomb/) });
    expect(ms).toBeLessThan(300);
  });

  it('a time limit bounds any archive', async () => {
    const path = write('slow-1.0.tar.gz', gzipSync(Buffer.concat([tarFile('hostile-1.0/PKG-INFO', PKG_INFO), tarFile('hostile-1.0/r', Buffer.alloc(4 << 20, 7)), TAR_END])));
    const limits = { maxArchiveBytes: 1 << 30, maxUnpackedBytes: 1 << 30, maxMembers: 100, maxRatio: 1e9, maxMillis: -1 };
    await expect(validateDist(path, limits)).rejects.toMatchObject({ code: 'PYTI_INPUT_TOO_LARGE', message: expect.stringMatching(/took longer than/) });
    const whl = write('slow-1.0-py3-none-any.whl', rawZip([{ name: 'hostile-1.0.dist-info/METADATA', data: METADATA }]));
    await expect(validateDist(whl, limits)).rejects.toMatchObject({ code: 'PYTI_INPUT_TOO_LARGE', message: expect.stringMatching(/took longer than/) });
  });
});
