// Host and guest read an archive the same way: for archives the host accepts (PAX size and path
// overrides, GNU long names, ustar prefixes, bytes after the end marker, links, UTF-8 zip names), the
// guest's own inspect task (tasks/guest/inspect_dist.py, run here on the host with Python's tarfile
// and zipfile) finds the same distribution and the same files. For what the host refuses, it shows
// what the guest would have done: another version's metadata, or a traceback.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateDist } from './validate-dist.js';
import { readTarGz } from './tar-reader.js';
import { TAR_END, paxBlock, rawZip, tarBlock, tarFile } from './hostile-archive-kit.js';

const INSPECT = new URL('../../../tasks/guest/inspect_dist.py', import.meta.url).pathname;
const pkgInfo = (v = '1.0'): string => `Metadata-Version: 2.1\nName: hostile\nVersion: ${v}\n\n`;
let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'pyti-parity-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function write(filename: string, data: Buffer): string {
  const d = join(dir, String(n++));
  mkdirSync(d);
  writeFileSync(join(d, filename), data);
  return join(d, filename);
}

/** Runs the guest's inspect task on `path`: its exit status and inspect.json. */
function guestInspect(path: string): { status: number | null; info: { name?: string; version?: string; files?: string[]; error?: string } } {
  const base = `${path}.guest`;
  for (const d of ['src', 'meta', 'raw']) mkdirSync(join(base, d), { recursive: true });
  const r = spawnSync('python3', [INSPECT, path, join(base, 'src'), join(base, 'meta'), join(base, 'raw')]);
  let info = {};
  try {
    info = JSON.parse(readFileSync(join(base, 'raw', 'inspect.json'), 'utf8'));
  } catch {
    /* a traceback leaves no inspect.json */
  }
  return { status: r.status, info };
}

async function hostFiles(path: string): Promise<string[]> {
  const files: string[] = [];
  await readTarGz(path, 'x', { maxStreamBytes: 1 << 30, maxRatio: 200, maxMillis: 60_000 }, {
    member: (m) => {
      if (m.type === 'File' || m.type === 'OldFile') files.push(m.name.split('/').slice(1).join('/'));
      return 0;
    },
  });
  return files.sort();
}

const sdist = (...blocks: Buffer[]): Buffer => gzipSync(Buffer.concat([tarFile('hostile-1.0/PKG-INFO', pkgInfo()), ...blocks, TAR_END]));

describe('the guest inspect task reads what the host accepted the same way', () => {
  it.each([
    ['a PAX size override hiding a header in the data', () => sdist(paxBlock({ size: '1024' }), tarBlock({ name: 'hostile-1.0/data.bin', data: Buffer.concat([tarFile('hostile-1.0/hidden.py', 'x'), Buffer.alloc(0)]).subarray(0, 1024), size: 0 }), tarFile('hostile-1.0/after.txt', 'ok'))],
    ['a PAX path override', () => sdist(paxBlock({ path: 'hostile-1.0/réel.py' }), tarFile('hostile-1.0/stored.py', 'x'))],
    ['a GNU long name and a ustar prefix', () => sdist(tarBlock({ name: '././@LongLink', type: 'L', data: `hostile-1.0/${'d'.repeat(120)}/f.py\0` }), tarFile('ignored', 'x'), tarBlock({ name: 'g.py', prefix: 'hostile-1.0/pkg', data: 'y' }))],
    ['members after the end-of-archive marker', () => gzipSync(Buffer.concat([tarFile('hostile-1.0/PKG-INFO', pkgInfo()), TAR_END, tarFile('hostile-1.0/late.py', 'x'), TAR_END]))],
    ['links that stay inside through other links', () => sdist(tarBlock({ name: 'hostile-1.0/sub/up', type: '2', linkname: '..' }), tarBlock({ name: 'hostile-1.0/sub/x', type: '2', linkname: 'up/PKG-INFO' }))],
  ])('%s', async (_what, build) => {
    const path = write('hostile-1.0.tar.gz', build());
    const host = await validateDist(path);
    const guest = guestInspect(path);
    expect(guest.status).toBe(0);
    expect(guest.info).toMatchObject({ name: host.name, version: host.version });
    expect(guest.info.files).toEqual(await hostFiles(path));
  });

  it('a wheel with UTF-8 names', async () => {
    const path = write('hostile-1.0-py3-none-any.whl', rawZip([{ name: 'hostile/café.py', data: 'x' }, { name: 'hostile-1.0.dist-info/METADATA', data: pkgInfo() }]));
    expect(await validateDist(path)).toMatchObject({ name: 'hostile', version: '1.0' });
    expect(guestInspect(path)).toMatchObject({ status: 0, info: { name: 'hostile', version: '1.0', files: ['hostile-1.0.dist-info/METADATA', 'hostile/café.py'] } });
  });
});

describe('what the host refuses, the guest would have read differently', () => {
  it('a second PKG-INFO: the guest reads the last one (the report would name one version while another was inspected)', async () => {
    const path = write('hostile-1.0.tar.gz', sdist(tarFile('hostile-1.0/PKG-INFO', pkgInfo('6.6.6'))));
    await expect(validateDist(path)).rejects.toMatchObject({ code: 'PYTI_INPUT_AMBIGUOUS' });
    expect(guestInspect(path).info.version).toBe('6.6.6');
  });

  it('a zip name flagged UTF-8 that is not: the guest dies with a traceback', async () => {
    const path = write('hostile-1.0-py3-none-any.whl', rawZip([{ name: 'hostile-1.0.dist-info/METADATA', data: pkgInfo() }, { name: Buffer.from('hostile/\xff.py', 'latin1'), flags: 0x800, data: 'x' }]));
    await expect(validateDist(path)).rejects.toMatchObject({ code: 'PYTI_INPUT_BAD_NAME' });
    const g = guestInspect(path);
    expect(g.status).toBe(1);
    expect(g.info).toEqual({});
  });

  it('two .dist-info directories: the guest reads whichever listdir gives first', async () => {
    const path = write('hostile-1.0-py3-none-any.whl', rawZip([{ name: 'hostile-1.0.dist-info/METADATA', data: pkgInfo() }, { name: 'evil-6.6.6.dist-info/METADATA', data: pkgInfo('6.6.6').replace('hostile', 'evil') }]));
    await expect(validateDist(path)).rejects.toMatchObject({ code: 'PYTI_INPUT_AMBIGUOUS' });
    expect(guestInspect(path).status).toBe(0);
  });
});
