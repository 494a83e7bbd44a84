// Git subscriptions through the user API and `pyti subscribe|status` against a real master on a
// socket, following a real local repository (no slave: the audits stay queued; the cross-process test
// with a slave is test/src/git-subscription.test.ts).
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../cli/main.js';
import { cliIO, until } from '../testing/cli-test-kit.js';
import { UserClient } from '../client/user-client.js';
import { loadMasterConfig } from '../config.js';
import { buildMasterApp, type MasterApp } from '../http/master-app.js';
import { TestGitRepo } from '../testing/git-repo-kit.js';

jest.setTimeout(60_000);
const USER = 'user-token-0123456789';

describe('git subscriptions through the API and the CLI (real socket, real git)', () => {
  let dir: string;
  let m: MasterApp;
  let client: UserClient;
  let repo: TestGitRepo;
  const log: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-git-api-'));
    repo = new TestGitRepo(join(dir, 'app'));
    repo.commit('first', { 'pyproject.toml': '[project]\nname = "git-app"\nversion = "1"\n' });
    const config = loadMasterConfig({ data: join(dir, 'master'), port: 0, gitPollMs: 200, follow: false }, { PYTI_USER_TOKEN: USER });
    m = await buildMasterApp(config, { git: { log: (l) => log.push(l) } });
    await m.listen();
    client = new UserClient({ url: m.url!, token: USER });
  });
  afterAll(async () => {
    await m.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function cli(...args: string[]) {
    const io = cliIO();
    const code = await main([...args, '--master', m.url!, '--token', USER], io);
    return { code, out: io.stdout, err: io.stderr };
  }
  async function raw(method: string, path: string, body?: unknown) {
    const res = await fetch(`${m.url}${path}`, {
      method, headers: { authorization: `Bearer ${USER}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() as any };
  }

  it('refuses hostile or misplaced fields with PYTI_SUBSCRIPTION_INVALID naming the field', async () => {
    for (const [body, message] of [
      [{ name: 'x', kind: 'git', repo: '--upload-pack=touch /tmp/pyti-x', branch: 'main' }, /^repo: .*starts with "-"/],
      [{ name: 'x', kind: 'git', repo: 'ext::sh -c touch% /tmp/pyti-x', branch: 'main' }, /^repo: .*transport>::<address>/],
      [{ name: 'x', kind: 'git', repo: repo.dir, branch: '--orphan' }, /^branch: .*starts with "-"/],
      [{ name: 'x', kind: 'git', repo: repo.dir }, /^branch: must be the name of a branch/],
      [{ name: 'x', kind: 'git', repo: repo.dir, branch: 'main', projects: ['a'] }, /^projects: does not go with kind git/],
      [{ name: 'x', kind: 'all', repo: repo.dir }, /^repo: does not go with kind all/],
    ] as const) {
      expect(await raw('POST', '/api/v1/subscriptions', body)).toMatchObject({ status: 400, body: { error: { code: 'PYTI_SUBSCRIPTION_INVALID', message: expect.stringMatching(message) } } });
    }
    expect(await client.subscriptions()).toEqual([]);
  });

  it('audits the head at once, then new commits; found by commit id; errors are shown and cleared', async () => {
    const c1 = repo.head();
    const created = await client.subscribe({ name: 'app', kind: 'git', repo: repo.dir, branch: 'main', priority: 4 });
    expect(created).toMatchObject({ kind: 'git', spec: { repo: repo.dir, branch: 'main' }, git: { commitsAudited: 0 } });
    const [first] = await until('the head audited', async () => {
      const a = await client.list({ commit: c1.slice(0, 7) });
      return a.length ? a : undefined;
    });
    expect(first).toMatchObject({ source: 'git', state: 'queued', project: 'git-app', version: c1, priority: 4, filename: null, git: { repo: repo.dir, branch: 'main', commit: c1 } });
    expect(await client.list({ commit: c1.slice(0, 7) === '0000000' ? '1111111' : '0000000' })).toEqual([]);
    expect(await raw('GET', '/api/v1/audits?commit=xyz1234')).toMatchObject({ status: 400, body: { error: { code: 'PYTI_USAGE', message: expect.stringMatching(/^commit: must be a commit id or a prefix/) } } });
    expect((await client.subscription('app')).git).toMatchObject({ cursor: c1, head: c1, commitsAudited: 1, lastError: null });

    const c2 = repo.commit('second', { 'a.txt': '2' });
    await until('the second commit', async () => ((await client.subscription('app')).git?.cursor === c2 ? true : undefined));
    const status = await cli('status', '--commit', c2.slice(0, 12));
    expect(status.out.split('\n')[1]).toMatch(new RegExp(`^a\\S+ +queued +git-app +${c2.slice(0, 20)}`));
    expect((await cli('status', '--commit', 'nothex!')).code).toBe(64);
    expect((await cli('status', (await client.list({ commit: c2 }))[0]!.id)).out).toMatch(new RegExp(`source +git: main @ ${c2.slice(0, 12)}\\n +repo +${repo.dir}\\n +branch +main\\n +commit +${c2}`));
    const list = await (await fetch(`${m.url}/`, { headers: { authorization: `Bearer ${USER}` } })).text();
    expect(list).toContain(`git: main @ ${c2.slice(0, 12)}`);

    // The branch disappears: the poll's error is recorded, shown, and cleared once it is back.
    repo.git('branch', '-m', 'main', 'trunk');
    await until('the error', async () => ((await client.subscription('app')).git?.lastError?.code === 'PYTI_GIT_BRANCH_NOT_FOUND' ? true : undefined));
    const show = await cli('subscribe', 'show', 'app');
    expect(show.out).toMatch(new RegExp(`cursor +${c2}`));
    expect(show.out).toMatch(/error +PYTI_GIT_BRANCH_NOT_FOUND: fetching branch main of .*: the repository has no such branch/);
    expect(show.out).toMatch(new RegExp(`queued +git-app ${c2.slice(0, 12)}`));
    repo.git('branch', '-m', 'trunk', 'main');
    await until('the recovery', async () => ((await client.subscription('app')).git?.lastError === null ? true : undefined));
    expect(await client.list({ limit: 10 })).toHaveLength(2);
    expect(log.join('\n')).toMatch(/git app: PYTI_GIT_BRANCH_NOT_FOUND/);

    expect((await cli('subscribe', 'add', 'other', '--all', '--branch', 'main')).err).toMatch(/--branch goes with --git, not --all/);
    expect((await cli('subscribe', 'remove', 'app')).out).toMatch(/removed app; 2 queued audits cancelled/);
  });
});
