/**
 * The slave's half of a git job on its own, with the real guest image and bubblewrap: a commit's
 * archive (made with `git archive` exactly as the master makes it) is checked, unpacked and built
 * into an sdist offline; a build that fails, needs a requirement that is not in the wheelhouse, or
 * takes too long is a `build-fail…` result with the build's log; a build that leaves something other
 * than one sdist is refused; an archive with members outside `source/` is refused before it is used.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireRootfs } from '@pyti/images';
import { BwrapBackend, buildSdist, pickSdist } from '@pyti/slave';
import { outsidePrefix, validateDist, validateTarGz } from '@pyti/common';
import { TestGitRepo } from '../../master/src/testing/git-repo-kit.js';
import { debianWheel } from './index-fixtures.js';

jest.setTimeout(180_000);

const FIXTURE = new URL('../fixtures/git/gitpkg/', import.meta.url).pathname;
let dir: string;
let rootfs: string;
let wheelhouse: string;
let repo: TestGitRepo;
let skip: string | null = null;
let n = 0;

/** `git archive` of the repository's head, as the master makes it, into a fresh directory. */
function archive(): string {
  const d = join(dir, `archive-${++n}`);
  mkdirSync(d);
  const path = join(d, 'source.tar.gz');
  writeFileSync(path, execFileSync('git', ['-C', repo.dir, 'archive', '--format=tar.gz', '--prefix=source/', 'HEAD']));
  return path;
}

const build = (archivePath: string, requirements = ['setuptools>=61', 'wheel'], timeoutMs?: number) =>
  buildSdist({ rootfs, archive: archivePath, workDir: join(dir, `work-${++n}`), wheelhouse, requirements, timeoutMs });

beforeAll(async () => {
  skip = await new BwrapBackend().probe();
  if (skip) return void process.stderr.write(`git sdist build test skipped: ${skip}\n`);
  dir = mkdtempSync(join(tmpdir(), 'pyti-git-sdist-'));
  rootfs = requireRootfs().path;
  wheelhouse = join(dir, 'wheels');
  mkdirSync(wheelhouse);
  for (const w of [debianWheel('setuptools'), debianWheel('wheel')]) copyFileSync(w, join(wheelhouse, w.split('/').pop()!));
  repo = new TestGitRepo(join(dir, 'repo'));
  repo.copyFrom(FIXTURE);
  repo.commit('a tiny package');
});
afterAll(() => {
  if (dir && !process.env.PYTI_KEEP_TEST_OUTPUT) rmSync(dir, { recursive: true, force: true });
});

describe('building the sdist of a commit offline in the sandbox', () => {
  it('builds one sdist that validates as the project', async () => {
    if (skip) return;
    const a = archive();
    const checked = await validateTarGz(a, undefined, outsidePrefix);
    expect(checked.members).toBeGreaterThan(5);
    const r = await build(a);
    if (!r.ok) throw new Error(`${r.result}: ${r.reason}\n${r.log}`);
    const dist = await validateDist(r.sdist);
    expect([dist.filename, dist.name, dist.version, dist.kind]).toEqual([expect.stringMatching(/^pyti[-_]gitpkg-0\.1\.0\.tar\.gz$/), 'pyti-gitpkg', '0.1.0', 'sdist']);
    expect(r.log).toMatch(/\$ python -m build --sdist --no-isolation[\s\S]*Successfully built pyti[-_]gitpkg-0\.1\.0\.tar\.gz/);
  });

  it('a build that fails is build-fail with its log; one that tries the network gets none', async () => {
    if (skip) return;
    repo.commit('break the build', {
      'setup.py': 'import socket, sys\ns = socket.socket()\ns.settimeout(2)\ntry:\n    s.connect(("127.0.0.1", 9))\nexcept OSError as e:\n    print("network:", e)\nsys.exit("this commit breaks the build on purpose")\n',
    });
    const r = await build(archive());
    expect(r).toMatchObject({ ok: false, result: 'build-fail', reason: expect.stringMatching(/exited with 1: .*breaks the build on purpose/) });
    expect(!r.ok && r.log).toMatch(/network: \[Errno (111|101)\]/);
    repo.rewind(1);
  });

  it('a build requirement missing from the wheelhouse is build-fail:deps; a slow build is build-fail:timeout', async () => {
    if (skip) return;
    const deps = await build(archive(), ['setuptools>=61', 'pyti-no-such-requirement>=1']);
    expect(deps).toMatchObject({ ok: false, result: 'build-fail:deps', reason: expect.stringMatching(/could not be installed offline: .*pyti-no-such-requirement/) });

    repo.commit('slow build', { 'setup.py': 'import time\ntime.sleep(60)\n' });
    const slow = await build(archive(), ['setuptools>=61'], 8000);
    expect(slow).toMatchObject({ ok: false, result: 'build-fail:timeout', reason: expect.stringMatching(/longer than 8 s/) });
    repo.rewind(1);
  });

  it('refuses an archive with members outside source/, and build output that is not exactly one sdist', async () => {
    if (skip) return;
    const d = join(dir, 'stray');
    mkdirSync(join(d, 'other'), { recursive: true });
    writeFileSync(join(d, 'other', 'x.py'), '');
    execFileSync('tar', ['-czf', join(dir, 'stray.tar.gz'), '-C', d, 'other']);
    await expect(validateTarGz(join(dir, 'stray.tar.gz'), undefined, outsidePrefix)).rejects.toMatchObject({ code: 'PYTI_INPUT_UNSAFE_PATH', message: expect.stringMatching(/outside the archive's source\/ directory/) });

    const out = join(dir, 'out');
    mkdirSync(out);
    expect(pickSdist(out, 1000)).toEqual({ why: 'the build left nothing in its output; exactly one .tar.gz was expected' });
    symlinkSync('/etc/shadow', join(out, 'evil-1.0.tar.gz'));
    expect(pickSdist(out, 1000)).toEqual({ why: 'evil-1.0.tar.gz is not a regular file' });
    writeFileSync(join(out, 'extra.whl'), '');
    expect(pickSdist(out, 1000)).toMatchObject({ why: expect.stringMatching(/exactly one \.tar\.gz/) });
  });
});
