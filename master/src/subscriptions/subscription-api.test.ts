// The subscription API and `pyti subscribe` against a real master on a socket, its change log and
// index in memory (the cross-process test with the real index is test/src/subscriptions.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../cli/main.js';
import { cliIO, until } from '../testing/cli-test-kit.js';
import { UserClient } from '../client/user-client.js';
import { loadMasterConfig } from '../config.js';
import { buildMasterApp, type MasterApp } from '../http/master-app.js';
import { testStores } from '../testing/store-kit.js';
import { MemoryChangelog, MemoryIndex } from './subscription-test-kit.js';

const USER = 'user-token-0123456789';

const stores = testStores();

describe.each(stores.kinds)('subscription API and CLI on %s (real socket)', (kind) => {
  let dir: string;
  let m: MasterApp;
  let changelog: MemoryChangelog;
  let index: MemoryIndex;
  let client: UserClient;
  const log: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-subs-api-'));
    changelog = new MemoryChangelog(700);
    index = new MemoryIndex();
    const database = kind === 'postgres' ? await stores.location('postgres') : undefined;
    const config = loadMasterConfig({ data: dir, database, port: 0, pollMs: 100, rssPollMs: 0 }, { PYTI_USER_TOKEN: USER });
    m = await buildMasterApp(config, { feeds: { changelog, resolve: index.resolve, rss: {}, log: (l) => log.push(l) } });
    await m.listen();
    client = new UserClient({ url: m.url!, token: USER });
  });
  afterAll(async () => {
    await m.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function cli(...args: string[]) {
    const io = cliIO();
    const code = await main(['subscribe', ...args, '--master', m.url!, '--token', USER], io);
    return { code, out: io.stdout, err: io.stderr };
  }
  async function raw(method: string, path: string, body?: unknown, token: string | null = USER) {
    const res = await fetch(`${m.url}${path}`, {
      method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() as any };
  }

  it('refuses bad requests with clear codes, and writes without the token', async () => {
    expect((await raw('POST', '/api/v1/subscriptions', { name: 'x', kind: 'all' }, null)).status).toBe(401);
    const bad = await raw('POST', '/api/v1/subscriptions', { name: 'x', kind: 'projects', projects: ['ok', 'not a name'] });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'PYTI_SUBSCRIPTION_INVALID' } } });
    expect(bad.body.error.message).toMatch(/^projects: "not a name" is not a project name/);
    expect((await raw('POST', '/api/v1/subscriptions', { name: 'x', kind: 'everything' })).body.error.message).toMatch(/kind: "everything" is not one of all, projects, pattern, new-projects/);
    expect((await raw('POST', '/api/v1/subscriptions', { name: 'x', kind: 'all', pattern: 'a*' })).body.error.message).toMatch(/pattern: does not go with kind all/);
    expect(await raw('GET', '/api/v1/subscriptions/nope')).toMatchObject({ status: 404, body: { error: { code: 'PYTI_SUBSCRIPTION_NOT_FOUND' } } });
    expect(await raw('PATCH', '/api/v1/subscriptions/nope', { paused: true })).toMatchObject({ status: 404 });
    expect(await raw('GET', '/api/v1/feed')).toMatchObject({ status: 200, body: { following: false, cursor: null, lag: null } });
  });

  it('pyti subscribe: add, list, uploads become audits, yanks cancel them, pause, resume, set, remove', async () => {
    const add = await cli('add', 'web', '--project', 'Flask,Django', '--priority', '5', '--backend', 'qemu', '--backlog', '10', '--on-backlog', 'pause');
    expect(add.code).toBe(0);
    expect(add.out).toMatch(/^subscribed web: web +projects +projects: django, flask +5 +qemu +10 pause +active/);
    expect((await cli('add', 'web', '--all')).err).toMatch(/PYTI_SUBSCRIPTION_EXISTS: .*already exists/);
    expect((await cli('add', 'two', '--all', '--new-projects')).code).toBe(64);
    // Following started with the first subscription, at the index's last serial.
    await until('the first poll', async () => (await client.feed()).cursor ?? undefined);
    expect(await client.feed()).toMatchObject({ following: true, cursor: 700, lag: 0 });
    index.add('flask', '3.0', ['flask-3.0.tar.gz', 'flask-3.0-py3-none-any.whl']);
    index.add('numpy', '2.0', ['numpy-2.0.tar.gz']);
    changelog.add('Flask', '3.0', 'new-release');
    changelog.add('numpy', '2.0', 'new-release');
    const audits = await until('the audits of flask', async () => {
      const a = await client.subscriptionAudits('web');
      return a.length === 2 ? a : undefined;
    });
    expect(audits.map((a) => [a.filename, a.audit.state, a.audit.priority, a.audit.backend]).sort()).toEqual([
      ['flask-3.0-py3-none-any.whl', 'queued', 5, 'qemu'], ['flask-3.0.tar.gz', 'queued', 5, 'qemu']]);
    const list = await cli('list');
    expect(list.out.split('\n')[1]).toMatch(/^web +projects +projects: django, flask +5 +qemu +10 pause +active +2 +2 +0 +0$/);

    changelog.add('flask', '3.0', 'yank-release');
    await until('the yank', async () => ((await client.subscription('web')).counts.cancelled === 2 ? true : undefined));
    const show = await cli('show', 'web');
    expect(show.out).toMatch(/counts +matched 1, submitted 2, queued 0, dropped 0, cancelled 2 \(yanked or removed\)/);
    expect(show.out).toMatch(/cursor +703, lag 0/);
    expect(show.out).toMatch(/cancelled +flask 3\.0 flask-3\.0\.tar\.gz \[yanked\]/);

    expect((await cli('pause', 'web')).out).toBe('web: paused\n');
    index.add('django', '5.0', ['django-5.0.tar.gz']);
    changelog.add('django', '5.0', 'new-release');
    await until('the skipped release', async () => ((await client.subscription('web')).counts.skipped === 1 ? true : undefined));
    expect((await client.subscription('web')).pausedReason).toBe('paused by a user');
    expect((await cli('resume', 'web')).out).toBe('web: resumed\n');
    expect((await cli('set', 'web', '--priority=-3', '--backlog', 'none', '--backend', 'default')).out).toMatch(/web +projects .* -3 +default +- +active/);
    index.add('django', '5.1', ['django-5.1.tar.gz']);
    changelog.add('django', '5.1', 'new-release');
    const d51 = await until('django 5.1', async () => (await client.subscriptionAudits('web')).find((a) => a.version === '5.1'));
    expect([d51.audit.priority, d51.audit.backend, d51.audit.state]).toEqual([-3, 'bwrap', 'queued']);

    const rm = await cli('remove', 'web', '--json');
    expect(JSON.parse(rm.out)).toMatchObject({ removed: { name: 'web' }, cancelled: 1 });
    expect((await client.get(d51.audit.id)).state).toBe('cancelled');
    expect((await cli('show', 'web')).err).toMatch(/PYTI_SUBSCRIPTION_NOT_FOUND/);
  });
});
