/**
 * Seed submissions end to end, every component a separate process: the test index, `pyti master`
 * and one `pyti slave --backend bwrap`.
 *
 * - `pyti submit --git REPO --ref v1 --wait` audits the tagged commit of a real local repository
 *   holding a tiny setuptools package (test/fixtures/git/gitpkg) once: a complete report carrying the
 *   repository, the ref and the commit, and the exit code of a clean audit;
 * - `pyti submit --zip` of that package as a project directory plus a wheel gives two audits in one
 *   submission, both audited by the slave (the directory built into an sdist like a commit), listed
 *   with their states by `/submissions/<id>` and its API.
 */
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { UserClient } from '@pyti/master';
import { BwrapBackend } from '@pyti/slave';
import { type AuditReport } from '@pyti/common';
import { TestGitRepo } from '../../master/src/testing/git-repo-kit.js';
import { tinyWheel } from '../../master/src/testing/tiny-dists.js';
import { zipOf, type ZipEntry } from '../../master/src/testing/zip-kit.js';
import { TestChild, eventually, freePort } from './child-process.js';
import { buildIndexFixtures } from './index-fixtures.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const PYTI = join(ROOT, 'bin/pyti.mjs');
const INDEX_MAIN = join(ROOT, 'test/dist/index-server/main.js');
const FIXTURE = join(ROOT, 'test/fixtures/git/gitpkg');
const USER_TOKEN = 'user-token-for-the-seed-submission-test';
const SLAVE_TOKEN = 'slave-token-for-the-seed-submission-test';
const ECHO = process.env.PYTI_TEST_ECHO === '1';

jest.setTimeout(6 * 60_000);

let dir: string;
let index: TestChild;
let master: TestChild;
let masterUrl: string;
let slave: TestChild;
let client: UserClient;
let skip: string | null = null;

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

/** The fixture's files as zip entries under `prefix`. */
function entriesOf(root: string, prefix: string): ZipEntry[] {
  const out: ZipEntry[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push({ name: `${prefix}${relative(root, p)}`, data: readFileSync(p), deflate: true });
    }
  };
  walk(root);
  return out;
}

beforeAll(async () => {
  skip = await new BwrapBackend().probe();
  if (skip) return void process.stderr.write(`seed submission test skipped: ${skip}\n`);
  dir = mkdtempSync(join(tmpdir(), 'pyti-seed-'));
  const fixtures = buildIndexFixtures();
  index = new TestChild('index', process.execPath, [INDEX_MAIN, '--port', String(await freePort()), ...fixtures.files], { echo: ECHO });
  const indexUrl = JSON.parse((await index.waitForLine(/^\{"url".*$/, 30_000))[0]).url;
  master = new TestChild('master', process.execPath, [
    PYTI, 'master', '--data', join(dir, 'master'), '--host', '127.0.0.1', '--port', String(await freePort()), '--slave-token', `seed:${SLAVE_TOKEN}`,
    '--lease-ms', '20000', '--heartbeat-ms', '1000', '--no-follow',
  ], { env: { PYTI_USER_TOKEN: USER_TOKEN }, echo: ECHO });
  masterUrl = (await master.waitForLine(/pyti master listening on (\S+)/, 30_000))[1]!;
  client = new UserClient({ url: masterUrl, token: USER_TOKEN, retry: { retries: 10, baseDelayMs: 200 } });
  slave = new TestChild('slave', process.execPath, [
    PYTI, 'slave', '--master', masterUrl, '--token', SLAVE_TOKEN, '--name', 'seed', '--backend', 'bwrap', '--concurrency', '2',
    '--index-url', indexUrl, '--data', join(dir, 'slave'),
  ], { echo: ECHO });
});

afterAll(async () => {
  await slave?.stop('SIGKILL');
  await master?.stop('SIGKILL');
  await index?.stop('SIGKILL');
  if (dir && !process.env.PYTI_KEEP_TEST_OUTPUT) rmSync(dir, { recursive: true, force: true });
});

describe('seed submissions with a master and a bwrap slave as processes', () => {
  it('pyti submit --git REPO --ref TAG --wait audits the tagged commit once', async () => {
    if (skip) return;
    const repo = new TestGitRepo(join(dir, 'gitpkg'));
    repo.copyFrom(FIXTURE);
    const tagged = repo.commit('pyti-gitpkg 0.1.0');
    repo.git('tag', 'v0.1.0');
    repo.commit('after the tag', { 'NEWS.txt': 'later\n' });
    const r = await cli('submit', '--git', repo.dir, '--ref', 'v0.1.0', '--wait');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/CLEAN +pyti-gitpkg/);
    const audits = (await client.list({ commit: tagged.slice(0, 12) }));
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ state: 'done', verdict: 'clean', source: 'git', git: { repo: repo.dir, branch: 'v0.1.0', commit: tagged } });
    const report = (await client.reportJson(audits[0]!.id)) as AuditReport;
    expect(report.source).toMatchObject({ kind: 'git', repo: repo.dir, branch: 'v0.1.0', commit: tagged });
    expect(report.tests?.passed).toBe(2);
  });

  it('pyti submit --zip with a project directory and a wheel audits both in one submission', async () => {
    if (skip) return;
    const wheel = tinyWheel('seedwheel', '1.0');
    const zip = join(dir, 'seed.zip');
    writeFileSync(zip, zipOf([...entriesOf(FIXTURE, 'gitpkg/'), { name: `wheels/${wheel.filename}`, data: wheel.bytes }]));
    const r = await cli('submit', '--zip', zip, '--json');
    expect(r.code).toBe(0);
    const sub = JSON.parse(r.out);
    expect(sub.audits.map((a: { entry: string }) => a.entry)).toEqual(['gitpkg/', `wheels/${wheel.filename}`]);
    const done = await eventually('both audits', async () => {
      const s = await client.submission(sub.id);
      return s.counts.done + s.counts.error === 2 ? s : undefined;
    }, 240_000, 1000);
    expect(done.audits.map((a) => [a.audit.project, a.audit.state, a.audit.verdict])).toEqual([
      ['pyti-gitpkg', 'done', 'clean'],
      ['seedwheel', 'done', expect.any(String)],
    ]);
    const report = (await client.reportJson(done.audits[0]!.audit.id)) as AuditReport;
    expect(report.source).toMatchObject({ kind: 'git', repo: 'zip:seed.zip', branch: 'gitpkg/' });
    expect(report.tests?.passed).toBe(2);
    const page = await (await fetch(`${masterUrl}/submissions/${sub.id}`, { headers: { authorization: `Bearer ${USER_TOKEN}` } })).text();
    expect(page).toContain('2 audits: 0 queued · 0 running · 2 done');
  });
});
