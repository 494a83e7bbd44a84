/**
 * Git subscriptions end to end, every component a separate process as in production: the test
 * index (build requirements and the dependency `idx-leaf`), `pyti master --git-poll-ms 500` and one
 * `pyti slave --backend bwrap`, following a real local git repository holding a tiny setuptools
 * package (test/fixtures/git/gitpkg).
 *
 * - `pyti subscribe add --git REPO --branch main` refuses hostile repositories and audits the head;
 *   two more commits give exactly two more audits, each with a complete report carrying the
 *   repository, branch and commit, found by commit id (`GET /api/v1/audits?commit=`, `pyti status
 *   --commit`) and shown by `pyti report` and the audit page;
 * - the master killed with SIGKILL, a commit made while it is down, the master restarted: that commit
 *   is audited once and nothing is audited twice;
 * - a commit that breaks the build gives a `build-fail` report with the build's log.
 */
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserClient, type AuditDetail, type AuditSummary } from '@pyti/master';
import { BwrapBackend } from '@pyti/slave';
import { type AuditReport } from '@pyti/common';
import { TestGitRepo } from '../../master/src/testing/git-repo-kit.js';
import { TestChild, eventually, freePort } from './child-process.js';
import { buildIndexFixtures } from './index-fixtures.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const PYTI = join(ROOT, 'bin/pyti.mjs');
const INDEX_MAIN = join(ROOT, 'test/dist/index-server/main.js');
const FIXTURE = join(ROOT, 'test/fixtures/git/gitpkg');
const USER_TOKEN = 'user-token-for-the-git-subscription-test';
const SLAVE_TOKEN = 'slave-token-for-the-git-subscription-test';
const ECHO = process.env.PYTI_TEST_ECHO === '1';

jest.setTimeout(6 * 60_000);

let dir: string;
let index: TestChild;
let indexUrl: string;
let master: TestChild;
let masterPort: number;
let masterUrl: string;
let slave: TestChild;
let client: UserClient;
let repo: TestGitRepo;
let skip: string | null = null;

function startMaster(): TestChild {
  return new TestChild('master', process.execPath, [
    PYTI, 'master', '--data', join(dir, 'master'), '--host', '127.0.0.1', '--port', String(masterPort), '--slave-token', `g:${SLAVE_TOKEN}`,
    '--lease-ms', '20000', '--heartbeat-ms', '1000', '--git-poll-ms', '500', '--no-follow',
  ], { env: { PYTI_USER_TOKEN: USER_TOKEN }, echo: ECHO });
}

/** Runs the `pyti` CLI as a process; resolves to its exit code and output. */
function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [PYTI, ...args, '--master', masterUrl, '--token', USER_TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/** The git audits of the master, oldest first. */
async function gitAudits(): Promise<AuditSummary[]> {
  return (await client.list({ limit: 500 })).filter((a) => a.source === 'git').reverse();
}

/** Waits for the one audit of `commit` to finish; fails if there is ever more than one. */
async function auditOf(commit: string, timeoutMs = 150_000): Promise<AuditDetail> {
  const found = await eventually(`the audit of commit ${commit.slice(0, 12)}`, async () => {
    const list = await client.list({ commit: commit.slice(0, 10) });
    if (list.length > 1) throw new Error(`commit ${commit} was audited ${list.length} times`);
    return list[0] && ['done', 'error', 'cancelled'].includes(list[0].state) ? list[0] : undefined;
  }, timeoutMs, 500);
  return client.get(found.id);
}

beforeAll(async () => {
  skip = await new BwrapBackend().probe();
  if (skip) return void process.stderr.write(`git subscription test skipped: ${skip}\n`);
  dir = mkdtempSync(join(tmpdir(), 'pyti-git-subscription-'));
  const fixtures = buildIndexFixtures();
  index = new TestChild('index', process.execPath, [INDEX_MAIN, '--port', String(await freePort()), ...fixtures.files], { echo: ECHO });
  indexUrl = JSON.parse((await index.waitForLine(/^\{"url".*$/, 30_000))[0]).url;
  masterPort = await freePort();
  master = startMaster();
  masterUrl = (await master.waitForLine(/pyti master listening on (\S+)/, 30_000))[1]!;
  client = new UserClient({ url: masterUrl, token: USER_TOKEN, retry: { retries: 10, baseDelayMs: 200 } });
  slave = new TestChild('slave', process.execPath, [
    PYTI, 'slave', '--master', masterUrl, '--token', SLAVE_TOKEN, '--name', 'g', '--backend', 'bwrap', '--concurrency', '2',
    '--index-url', indexUrl, '--data', join(dir, 'slave'),
  ], { echo: ECHO });
  repo = new TestGitRepo(join(dir, 'gitpkg'));
  repo.copyFrom(FIXTURE);
  repo.commit('pyti-gitpkg: first commit');
});

afterAll(async () => {
  await slave?.stop('SIGKILL');
  await master?.stop('SIGKILL');
  await index?.stop('SIGKILL');
  if (dir && !process.env.PYTI_KEEP_TEST_OUTPUT) rmSync(dir, { recursive: true, force: true });
});

describe('git subscriptions with a master and a slave as processes', () => {
  const commits: string[] = [];

  it('refuses hostile repositories; audits the head, then each new commit once, with reports keyed by commit', async () => {
    if (skip) return;
    const marker = join(dir, 'pwned');
    // An option-like value after --git is a usage error already; given as --git=VALUE it reaches the master, which refuses it.
    expect((await cli('subscribe', 'add', 'evil', '--git', `--upload-pack=touch ${marker}`, '--branch', 'main')).code).toBe(64);
    for (const hostile of [`--upload-pack=touch ${marker}`, `ext::sh -c touch% ${marker}`, `-oProxyCommand=touch ${marker}`, `fd::3`]) {
      const r = await cli('subscribe', 'add', 'evil', `--git=${hostile}`, '--branch', 'main');
      expect([r.code, r.err]).toEqual([2, expect.stringMatching(/^pyti: error PYTI_SUBSCRIPTION_INVALID: .*HTTP 400: repo: /)]);
    }
    expect((await cli('subscribe', 'add', 'evil', '--git', repo.dir, '--branch=--orphan')).err).toMatch(/PYTI_SUBSCRIPTION_INVALID: .*HTTP 400: branch: /);
    expect((await cli('subscribe', 'add', 'evil', '--git', repo.dir)).code).toBe(64);
    expect((await client.subscriptions()).map((s) => s.name)).toEqual([]);
    expect(existsSync(marker)).toBe(false);

    const add = await cli('subscribe', 'add', 'gitpkg', '--git', repo.dir, '--branch', 'main', '--priority', '3');
    expect(add.code).toBe(0);
    expect(add.out).toMatch(/^subscribed gitpkg: gitpkg +git +main @ \/tmp\/\S+ +3 +default +- +active /);
    commits.push(repo.head());

    const first = await auditOf(commits[0]!);
    expect(first).toMatchObject({ state: 'done', verdict: 'clean', result: 'pass', source: 'git', project: 'pyti-gitpkg', version: commits[0], priority: 3, git: { repo: repo.dir, branch: 'main', commit: commits[0] } });
    const report = (await client.reportJson(first.id)) as AuditReport;
    expect(report.source).toEqual({ kind: 'git', repo: repo.dir, branch: 'main', commit: commits[0], archiveSha256: expect.stringMatching(/^[0-9a-f]{64}$/), sdist: expect.stringMatching(/^pyti[-_]gitpkg-0\.1\.0\.tar\.gz$/), buildMs: expect.any(Number) });
    expect([report.distribution.name, report.distribution.kind, report.tests?.passed]).toEqual(['pyti-gitpkg', 'sdist', 2]);
    expect(report.install?.installed?.map((p) => p.name.toLowerCase().replace(/_/g, '-'))).toEqual(expect.arrayContaining(['pyti-gitpkg', 'idx-leaf']));
    expect(first.artifacts.map((a) => a.name)).toEqual(expect.arrayContaining(['raw/sdist/build.log', 'raw/install/install.strace']));

    const module = readFileSync(join(FIXTURE, 'pyti_gitpkg/__init__.py'), 'utf8');
    commits.push(repo.commit('revision 2', { 'pyti_gitpkg/__init__.py': module.replace('REVISION = 1', 'REVISION = 2') }));
    commits.push(repo.commit('revision 3', { 'pyti_gitpkg/__init__.py': module.replace('REVISION = 1', 'REVISION = 3') }));
    for (const c of commits.slice(1)) {
      const d = await auditOf(c);
      expect([d.state, d.result, d.git?.commit]).toEqual(['done', 'pass', c]);
      expect(((await client.reportJson(d.id)) as AuditReport).source?.commit).toBe(c);
    }
    expect((await gitAudits()).map((a) => a.git?.commit)).toEqual(commits);

    // Keyed by commit: `pyti status --commit`, `pyti report`, the audit page, the subscription.
    const second = (await client.list({ commit: commits[1]!.slice(0, 7) }))[0]!;
    const status = await cli('status', '--commit', commits[1]!.slice(0, 9).toUpperCase());
    expect(status.out.split('\n').filter((l) => l.startsWith('a'))).toEqual([expect.stringMatching(new RegExp(`^${second.id} +done +clean +pass +0 +pyti-gitpkg +${commits[1]!.slice(0, 20)}`))]);
    const shown = await cli('report', second.id);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`source: git ${repo.dir}  branch main  commit ${commits[1]}`);
    const page = await (await fetch(`${masterUrl}/audits/${second.id}`, { headers: { authorization: `Bearer ${USER_TOKEN}` } })).text();
    expect(page).toContain(`<code>${commits[1]}</code>`);
    const show = await cli('subscribe', 'show', 'gitpkg');
    expect(show.out).toMatch(new RegExp(`cursor +${commits[2]}`));
    expect(show.out).toMatch(/commits +3 audited, 0 force-pushes seen/);
  });

  it('the master killed with SIGKILL and restarted audits the commit made meanwhile, and nothing twice', async () => {
    if (skip) return;
    expect(commits).toHaveLength(3); // the first test got that far
    master.proc.kill('SIGKILL');
    await master.exited;
    commits.push(repo.commit('revision 4 while the master is down', { 'NEWS.txt': 'revision 4\n' }));
    master = startMaster();
    await master.waitForLine(/pyti master listening on/, 30_000);
    const d = await auditOf(commits[3]!);
    expect([d.state, d.result]).toEqual(['done', 'pass']);
    // Several more rounds of polling after the restart change nothing.
    const polled = (await client.subscription('gitpkg')).git!.lastPollAt!;
    await eventually('two more polls', async () => {
      const s = await client.subscription('gitpkg');
      return s.git!.lastPollAt! > polled ? s : undefined;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await gitAudits()).map((a) => a.git?.commit)).toEqual(commits);
    expect((await client.subscription('gitpkg'))).toMatchObject({ counts: { submitted: 4 }, git: { cursor: commits[3], lastError: null } });
  });

  it('a commit that breaks the build gives a build-fail report with the build log', async () => {
    if (skip) return;
    expect((await client.subscription('gitpkg')).kind).toBe('git');
    const broken = repo.commit('break the build', { 'setup.py': 'import sys\nsys.exit("this commit breaks the build on purpose")\n' });
    const d = await auditOf(broken);
    expect(d).toMatchObject({ state: 'done', verdict: 'failed', result: 'build-fail', git: { commit: broken } });
    const report = (await client.reportJson(d.id)) as AuditReport;
    expect(report.source).toMatchObject({ commit: broken, branch: 'main' });
    expect(report.source?.sdist).toBeUndefined();
    expect(report.tasks).toEqual([expect.objectContaining({ id: 'sdist', status: 'fail', reason: expect.stringMatching(/breaks the build on purpose/) })]);
    const log = (await client.artifact(d.id, 'raw/sdist/build.log')).toString('utf8');
    expect(log).toMatch(/python -m build --sdist[\s\S]*breaks the build on purpose/);
    const shown = await cli('report', d.id);
    expect([shown.code, shown.out]).toEqual([1, expect.stringMatching(/^FAILED +pyti-gitpkg [0-9a-f]{40} .* result: build-fail( +score: \d+)?\n.*source: git [\s\S]*the build from the commit failed/)]);
  });
});
