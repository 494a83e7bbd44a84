// Seed submissions against a real master on a socket: a zip of several projects (project directories
// made into real git commits, distributions validated as uploads) and hostile zips; one-off git
// audits of a real local repository through `pyti submit --git`; the submission's page and API.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { BlobStore } from '../blobs/blob-store.js';
import { join } from 'node:path';
import { main } from '../cli/main.js';
import { cliIO } from '../testing/cli-test-kit.js';
import { TestGitRepo } from '../testing/git-repo-kit.js';
import { KIT_USER, MasterKit } from '../testing/master-socket-kit.js';
import { tinyWheel } from '../testing/tiny-dists.js';
import { zipOf } from '../testing/zip-kit.js';

jest.setTimeout(60_000);

describe('seed submissions', () => {
  let k: MasterKit;
  beforeEach(async () => {
    k = await MasterKit.start();
  });
  afterEach(async () => {
    const t = Date.now();
    const timer = setInterval(() => process.stderr.write(`closing ${Date.now() - t} ${JSON.stringify((process as any)._getActiveHandles().map((h: any) => h.constructor?.name))}\n`), 5000);
    await k.close();
    clearInterval(timer);
  });

  const postZip = (zip: Buffer, filename = 'seed.zip') =>
    k.request('POST', `/api/v1/submissions/zip?filename=${encodeURIComponent(filename)}`, { body: zip, headers: { 'content-type': 'application/zip' } });
  const queued = async () => (await k.request('GET', '/api/v1/audits')).json().audits.length;

  it('a zip of two project directories and a wheel makes three audits in one submission; the slave gets each project as a git archive', async () => {
    const wheel = tinyWheel('gamma', '2.0');
    const zip = zipOf([
      { name: 'alpha/', mode: 0o040755 },
      { name: 'alpha/pyproject.toml', data: '[project]\nname = "alpha-pkg"\nversion = "1.0"\n' },
      { name: 'alpha/alpha_pkg/__init__.py', data: 'VALUE = 1\n', deflate: true },
      { name: 'alpha/run.sh', data: '#!/bin/sh\necho hi\n', mode: 0o100755 },
      { name: 'tools/beta/setup.py', data: 'from setuptools import setup\nsetup(name="beta", version="0.1")\n' },
      { name: 'tools/beta/beta.py', data: 'B = 2\n' },
      { name: 'tools/beta/nested/pyproject.toml', data: '[project]\nname = "inner"\n' },
      { name: `dists/${wheel.filename}`, data: wheel.bytes },
      { name: 'README.txt', data: 'three projects\n' },
      { name: '__MACOSX/._alpha', data: 'junk' },
    ]);
    const res = await postZip(zip);
    expect(res.status).toBe(202);
    const sub = res.json();
    expect(sub).toMatchObject({ kind: 'zip', name: 'seed.zip', counts: { total: 3, queued: 3 } });
    expect(sub.audits.map((a: any) => [a.entry, a.audit.project, a.audit.source])).toEqual([
      ['alpha/', 'alpha-pkg', 'git'],
      ['tools/beta/', 'beta', 'git'],
      [`dists/${wheel.filename}`, 'gamma', 'upload'],
    ]);
    expect(sub.audits[2].audit.version).toBe('2.0');
    expect(sub.audits[0].audit.git).toMatchObject({ repo: 'zip:seed.zip', branch: 'alpha/' });

    expect((await k.request('GET', `/api/v1/submissions/${sub.id}`)).json()).toEqual(sub);
    const page = await k.request('GET', `/submissions/${sub.id}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(`<h1>Submission ${sub.id}</h1>`);
    expect((page.body.match(/<tr data-entry=/g) ?? []).length).toBe(3);
    expect(page.body).toContain('<td class="muted">tools/beta/</td>');
    expect(page.body).not.toContain('<script');

    // A slave leasing the first project gets the directory as a commit's source archive.
    await k.register('s1');
    const [job] = await k.rpc('s1', 'jobs.lease', { max: 1, waitMs: 0 }).then((r) => r.jobs);
    expect(job.source).toMatchObject({ kind: 'git', project: 'alpha-pkg', repo: 'zip:seed.zip', branch: 'alpha/' });
    const blobs = new BlobStore(join(k.dir, 'master', 'blobs'), join(k.dir, 'master', 'tmp'));
    expect(blobs.has(job.source.archive.sha256)).toBe(true);
    const tgz = join(mkdtempSync(join(k.dir, 'blob-')), 'a.tar.gz');
    await pipeline(blobs.open(job.source.archive.sha256)!, createWriteStream(tgz));
    const listing = execFileSync('tar', ['-tvzf', tgz], { encoding: 'utf8' });
    expect(listing).toMatch(/^-rw-rw-r-- .* source\/pyproject\.toml$/m);
    expect(listing).toMatch(/^-rwxrwxr-x .* source\/run\.sh$/m);
    expect(listing).toContain('source/alpha_pkg/__init__.py');
    expect(listing).not.toContain('beta');
  });

  it('refuses hostile or useless zips with a clear code and queues nothing', async () => {
    const wheel = tinyWheel('ok', '1.0');
    const cases: [Buffer, number, string, RegExp][] = [
      [zipOf([{ name: '../evil-1.0-py3-none-any.whl', data: wheel.bytes }]), 400, 'PYTI_INPUT_UNSAFE_PATH', /unsafe entry name/],
      [zipOf([{ name: '/abs/pyproject.toml', data: '' }]), 400, 'PYTI_INPUT_UNSAFE_PATH', /./],
      [zipOf([{ name: 'p/pyproject.toml', data: '' }, { name: 'p/link', data: '/etc/passwd', mode: 0o120777 }]), 400, 'PYTI_INPUT_UNSAFE_LINK', /symbolic link/],
      [zipOf([{ name: 'p/setup.py', data: '' }, { name: 'p/fifo', mode: 0o010644 }]), 400, 'PYTI_INPUT_UNSAFE_LINK', /not a file or directory/],
      [zipOf([{ name: 'p/setup.py', data: '' }, { name: 'p/zeros.bin', data: Buffer.alloc(40 * 1024 * 1024), deflate: true }]), 400, 'PYTI_INPUT_TOO_LARGE', /compression bomb/],
      [zipOf([{ name: 'a/setup.py', data: '' }, { name: 'a/setup.py/', mode: 0o040755 }]), 400, 'PYTI_SUBMISSION_INVALID', /appears twice/],
      [zipOf([{ name: `${'d'.repeat(201)}/setup.py`, data: '' }]), 400, 'PYTI_SUBMISSION_INVALID', /is longer than 200 characters/],
      [zipOf([{ name: 'README.md', data: 'nothing to audit' }]), 400, 'PYTI_SUBMISSION_INVALID', /holds no distribution .* and no project directory/],
      [zipOf([{ name: wheel.filename, data: wheel.bytes }, { name: 'broken-1.0.tar.gz', data: 'not gzip' }]), 400, 'PYTI_INPUT_NOT_ARCHIVE', /^seed\.zip: broken-1\.0\.tar\.gz: broken-1\.0\.tar\.gz: named \.tar\.gz but is not gzip data$/],
      [zipOf([{ name: 'nometa-1.0-py3-none-any.whl', data: zipOf([{ name: 'x.py', data: '' }]) }]), 400, 'PYTI_INPUT_NO_METADATA', /nometa-1\.0-py3-none-any\.whl/],
      [zipOf([{ name: 'dir/not a dist.zip', data: wheel.bytes }]), 400, 'PYTI_SUBMISSION_INVALID', /is not named as a distribution/],
      [Buffer.from('this is not a zip at all'), 400, 'PYTI_INPUT_MALFORMED', /corrupt zip/],
    ];
    for (const [zip, status, code, message] of cases) {
      const r = await postZip(zip);
      expect([r.status, r.json().error.code]).toEqual([status, code]);
      expect(r.json().error.message).toMatch(message);
    }
    expect(await queued()).toBe(0);
    expect((await postZip(zipOf([{ name: wheel.filename, data: wheel.bytes }]), '../x.zip')).json().error.code).toBe('PYTI_USAGE');
    expect((await k.request('POST', '/api/v1/submissions/zip?filename=a.zip', { body: wheel.bytes, token: null, headers: { 'content-type': 'application/zip' } })).status).toBe(401);
    expect((await k.request('GET', '/api/v1/submissions/snotthere12345')).json().error.code).toBe('PYTI_SUBMISSION_NOT_FOUND');
    expect((await k.request('GET', '/submissions/..%2F..')).status).toBe(404);
  });

  it('shows hostile directory names escaped on the submission page', async () => {
    const hostile = '"><img src=x onerror=alert(1)>';
    const r = await postZip(zipOf([{ name: `${hostile}/setup.py`, data: 'from setuptools import setup\nsetup()\n' }]));
    expect(r.status).toBe(202);
    const sub = r.json();
    expect(sub.audits[0].entry).toBe(`${hostile}/`);
    expect(sub.audits[0].audit.project).toBe('img-src-x-onerror-alert-1');
    const page = (await k.request('GET', `/submissions/${sub.id}`)).body;
    expect(page).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;/');
    expect(page).not.toMatch(/<img|<script|<[a-z]+(?:\s+[a-z-]+(?:="[^"]*")?)*\s+on[a-z]+=/i);
  });

  it('pyti submit --zip uploads a zip and prints its submission', async () => {
    const zip = zipOf([{ name: 'one/pyproject.toml', data: '[project]\nname = "one"\n' }, { name: tinyWheel('two', '1.0').filename, data: tinyWheel('two', '1.0').bytes }]);
    const file = join(k.dir, 'projects.zip');
    writeFileSync(file, zip);
    const io = cliIO();
    expect(await main(['submit', '--zip', file, '--master', k.url, '--token', KIT_USER], io)).toBe(0);
    expect(io.stdout).toMatch(/^s\S{12} {2}zip projects\.zip: 2 audits\n {2}page: http:\/\/127\.0\.0\.1:\d+\/submissions\/s\S{12}\n/);
    expect(io.stdout).toMatch(/ one [0-9a-f]{40} queued {2}\(one\/\)\n/);
    expect(io.stdout).toMatch(/ two 1\.0 queued {2}\(two-1\.0-py3-none-any\.whl\)\n/);
  });

  describe('one-off git audits', () => {
    let repo: TestGitRepo;
    let c1: string;
    let c2: string;
    beforeEach(() => {
      repo = new TestGitRepo(join(k.dir, 'app'));
      c1 = repo.commit('first', { 'pyproject.toml': '[project]\nname = "git-app"\nversion = "1"\n' });
      repo.git('tag', '-a', 'v1', '-m', 'release 1');
      c2 = repo.commit('second', { 'app.py': 'X = 1\n' });
    });
    async function cli(...args: string[]) {
      const io = cliIO();
      const code = await main(['submit', ...args, '--master', k.url, '--token', KIT_USER], io);
      return { code, out: io.stdout, err: io.stderr };
    }

    it('audits a branch, an annotated tag and a commit prefix once each, from a path or a file:// URL', async () => {
      const byBranch = await cli('--git', repo.dir, '--ref', 'main');
      expect(byBranch.code).toBe(0);
      expect(byBranch.out).toContain(`git ${repo.dir} main: 1 audits`);
      expect(byBranch.out).toContain(` git-app ${c2} queued  (main)`);
      const byTag = await cli('--git', `file://${repo.dir}`, '--ref', 'v1', '--json');
      const tagged = JSON.parse(byTag.out);
      expect(tagged.audits[0].audit).toMatchObject({ source: 'git', project: 'git-app', version: c1, git: { repo: `file://${repo.dir}`, branch: 'v1', commit: c1 } });
      const byPrefix = await cli('--git', repo.dir, '--ref', c1.slice(0, 10).toUpperCase());
      expect(byPrefix.out).toContain(` git-app ${c1} queued`);
      const sub = (await k.request('GET', `/api/v1/submissions/${tagged.id}`)).json();
      expect(sub).toMatchObject({ kind: 'git', name: `file://${repo.dir} v1`, counts: { total: 1, queued: 1 } });
      // The git audit carries the commit's archive, as a subscription's would.
      await k.register('s1');
      const jobs = (await k.rpc('s1', 'jobs.lease', { max: 3, waitMs: 0 })).jobs;
      expect(jobs.map((j: any) => j.source.commit).sort()).toEqual([c1, c1, c2].sort());
      expect(jobs.every((j: any) => /^[0-9a-f]{64}$/.test(j.source.archive.sha256))).toBe(true);
    });

    it('refuses unknown refs, hostile repositories and refs, and unreachable repositories', async () => {
      const cases: [string[], RegExp][] = [
        [['--git', repo.dir, '--ref', 'nope'], /PYTI_SUBMISSION_INVALID: .*HTTP 400: ref: .* has no branch or tag named "nope"/],
        [['--git', repo.dir, '--ref', 'deadbeef00'], /PYTI_SUBMISSION_INVALID: .*HTTP 400: ref: no commit "deadbeef00"/],
        [['--git', repo.dir, '--ref=--upload-pack=touch /tmp/x'], /PYTI_SUBMISSION_INVALID: .*HTTP 400: ref: .*white space/],
        [['--git', repo.dir, '--ref', 'a..b'], /PYTI_SUBMISSION_INVALID: .*HTTP 400: ref: "a\.\.b" is not a branch, tag or commit name/],
        [['--git=--upload-pack=touch /tmp/pyti-x', '--ref', 'main'], /PYTI_SUBMISSION_INVALID: .*HTTP 400: repo: .*starts with "-"/],
        [['--git', 'ext::sh -c touch% /tmp/pyti-x', '--ref', 'main'], /PYTI_SUBMISSION_INVALID: .*HTTP 400: repo: .*transport helpers are not allowed/],
        [['--git', join(k.dir, 'missing'), '--ref', 'main'], /PYTI_GIT_UNREACHABLE/],
      ];
      for (const [args, message] of cases) {
        const r = await cli(...args);
        expect(r.code).toBe(2);
        expect(r.err).toMatch(message);
      }
      expect((await cli('--git', repo.dir)).code).toBe(64);
      expect((await cli('--ref', 'main')).code).toBe(64);
      expect((await cli('--git', repo.dir, '--ref', 'main', '--zip', 'x.zip')).code).toBe(64);
      expect(await queued()).toBe(0);
    });
  });
});
