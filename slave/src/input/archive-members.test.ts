import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TAR_END, tarBlock, tarFile } from '@pyti/common';
import { memberPathBelowTop, readArchiveMembers } from './archive-members.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-members-'));
  const top = join(dir, 'src', 'pkg-1.0');
  mkdirSync(join(top, 'requirements'), { recursive: true });
  writeFileSync(join(top, 'tox.ini'), '[testenv]\ndeps = pytest\n');
  writeFileSync(join(top, 'requirements', 'test.txt'), 'hypothesis\n');
  writeFileSync(join(top, 'big.txt'), 'x'.repeat(5000));
  writeFileSync(join(top, 'setup.py'), 'raise SystemExit("never run")\n');
  expect(spawnSync('tar', ['-czf', join(dir, 'pkg-1.0.tar.gz'), '-C', join(dir, 'src'), 'pkg-1.0']).status).toBe(0);
  expect(spawnSync('zip', ['-qr', join(dir, 'pkg-1.0.zip'), 'pkg-1.0'], { cwd: join(dir, 'src') }).status).toBe(0);
  writeFileSync(join(dir, 'not-an-archive.tar.gz'), 'hello');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readArchiveMembers', () => {
  it.each(['pkg-1.0.tar.gz', 'pkg-1.0.zip'])('reads the wanted members of %s by their path below the top directory, within caps', async (name) => {
    const want = (rel: string): boolean => rel !== 'setup.py';
    const r = await readArchiveMembers(join(dir, name), want, { maxFileBytes: 4096, maxFiles: 10, maxTotalBytes: 1 << 20, maxStreamBytes: 1 << 30 });
    expect([...r.files.keys()].sort()).toEqual(['requirements/test.txt', 'tox.ini']);
    expect(r.files.get('requirements/test.txt')).toBe('hypothesis\n');
    expect(r.skipped).toBe(1); // big.txt is above the per-file cap
    const one = await readArchiveMembers(join(dir, name), want, { maxFileBytes: 4096, maxFiles: 1, maxTotalBytes: 1 << 20, maxStreamBytes: 1 << 30 });
    expect(one.files.size).toBe(1);
  });

  it('refuses what is not a gzip or zip archive, and unsafe or top-level names', async () => {
    await expect(readArchiveMembers(join(dir, 'not-an-archive.tar.gz'), () => true)).rejects.toMatchObject({ code: 'PYTI_INPUT_MALFORMED' });
    expect(memberPathBelowTop('pkg-1.0/a/b.txt')).toBe('a/b.txt');
    expect(memberPathBelowTop('./pkg-1.0/tox.ini')).toBe('tox.ini');
    expect(memberPathBelowTop('pkg-1.0/../etc/passwd')).toBeNull();
    expect(memberPathBelowTop('/etc/passwd')).toBeNull();
    expect(memberPathBelowTop('PKG-INFO')).toBeNull();
  });
});

describe('readArchiveMembers is bounded like validateDist', () => {
  const zeros = (): Buffer[] => {
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    return Array.from({ length: 16 }, () => member);
  };
  const cpu = async (f: () => Promise<unknown>): Promise<{ ms: number; result: unknown }> => {
    const before = process.cpuUsage();
    const result = await f().catch((err: unknown) => err);
    const u = process.cpuUsage(before);
    return { ms: (u.user + u.system) / 1000, result };
  };

  it('stops at the end-of-archive marker: 1 GiB of zeros after it (a 1 MB file) costs nothing', async () => {
    const path = join(dir, 'trailing-1.0.tar.gz');
    writeFileSync(path, Buffer.concat([gzipSync(Buffer.concat([tarFile('pkg-1.0/tox.ini', '[tox]\n'), TAR_END])), ...zeros()]));
    const { ms, result } = await cpu(() => readArchiveMembers(path, () => true));
    expect((result as { files: Map<string, string> }).files.get('tox.ini')).toBe('[tox]\n');
    expect(ms).toBeLessThan(500);
  });

  it('refuses a 1 MB bomb inside a member after ~32 MiB of inflation', async () => {
    const path = join(dir, 'bomb-1.0.tar.gz');
    writeFileSync(path, Buffer.concat([gzipSync(tarBlock({ name: 'pkg-1.0/zeros', size: 900 * 1024 * 1024 })), ...zeros()]));
    const { ms, result } = await cpu(() => readArchiveMembers(path, () => true));
    expect(result).toMatchObject({ code: 'PYTI_INPUT_MALFORMED', message: expect.stringMatching(/compression bomb/) });
    expect(ms).toBeLessThan(800);
  });
});
