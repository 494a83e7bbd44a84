import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIO } from '@pyti/slave/cli';
import { buildFixture } from './fixture-dists.js';

function io(): CliIO & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', isTTY: false, out: (s: string) => (o.stdout += s), err: (s: string) => (o.stderr += s) };
  return o;
}

const hostileScript = new URL('../fixtures/hostile/make_hostile_archives.py', import.meta.url).pathname;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-cli-'));
  execFileSync('python3', [hostileScript, join(dir, 'hostile')]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const jobDirs = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('pyti-job-'));

describe('pyti CLI', () => {
  it.each([
    ['traversal-1.0.tar.gz', 'PYTI_INPUT_UNSAFE_PATH'],
    ['bomb-1.0.tar.gz', 'PYTI_INPUT_TOO_LARGE'],
    ['zip_symlink-1.0-py3-none-any.whl', 'PYTI_INPUT_UNSAFE_LINK'],
    ['no-metadata-1.0.tar.gz', 'PYTI_INPUT_NO_METADATA'],
    ['notes.txt', 'PYTI_INPUT_NOT_ARCHIVE'],
  ])('refuses %s with exit 2 and %s, leaving nothing behind', async (name, code) => {
    const before = jobDirs();
    const out = join(dir, `out-${name}`);
    const o = io();
    const rc = await main(['audit', join(dir, 'hostile', name), '--out', out], o);
    expect(rc).toBe(2);
    expect(o.stderr).toContain(`pyti: error ${code}:`);
    expect(existsSync(out)).toBe(false);
    expect(jobDirs()).toEqual(before);
  });

  it('reports a wheelhouse that is not a directory', async () => {
    const o = io();
    const rc = await main(['audit', buildFixture('pyti-helper', 'wheel'), '--wheelhouse', '/nonexistent', '--out', join(dir, 'wh')], o);
    expect(rc).toBe(2);
    expect(o.stderr).toContain('PYTI_WHEELHOUSE_INVALID');
    expect(existsSync(join(dir, 'wh'))).toBe(false);
  });

  it('answers usage errors with exit 64 and the usage', async () => {
    for (const argv of [['audit'], ['frobnicate'], ['audit', 'x.tar.gz', '--parallel', '99'], ['audit', 'x.tar.gz', '--nope']]) {
      const o = io();
      expect(await main(argv, o)).toBe(64);
      expect(o.stderr).toContain('usage:');
    }
  });

  it('describes the cached guest image', async () => {
    const o = io();
    expect(await main(['image', 'info'], o)).toBe(0);
    const info = JSON.parse(o.stdout) as { versions: Record<string, string> };
    expect(info.versions.python).toMatch(/^3\.11/);
    expect(info.versions.pytest).toBeTruthy();
  });
});
