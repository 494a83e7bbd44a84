/**
 * Following the index without XML-RPC (issue 14, item 4): a real master with `--feed simple` (and
 * `--feed both`) against the test index's PEP 691 JSON `/simple/` root and project pages, with
 * `_last-serial`, ETags and PEP 700 upload times.
 *
 * - the first pass records every project's serial and fetches no page (uploads from now on);
 * - a new file is found by the next pass and audited exactly once, even when passes repeat;
 * - an unchanged index answers 304 and the pass fetches no project page and no JSON document;
 * - a changed project's new file is found, its old files are not submitted again;
 * - files uploaded more than 14 days before the follower started are not backfilled, newer ones are;
 * - a project listed at the first pass gets its new uploads audited, not the files it had before;
 * - beside the change log (`both`), the pass finds nothing the change log already audited.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMasterApp, loadMasterConfig, type MasterApp } from '@pyti/master';
import { tinyWheel } from '../../master/src/testing/tiny-dists.js';
import { ManualTimers } from '../../master/src/subscriptions/subscription-test-kit.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

const USER = 'user-token-simple-follower-012';
const DAY = 24 * 3600_000;

let tmp: string;

async function publish(server: IndexServer, name: string, version: string): Promise<number> {
  const w = tinyWheel(name, version);
  const dir = join(tmp, server.url.replace(/\W/g, '_'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, w.filename), w.bytes);
  return server.publish(join(dir, w.filename));
}

async function startMaster(server: IndexServer, feed: 'simple' | 'both', name: string): Promise<MasterApp> {
  const config = loadMasterConfig({ data: join(tmp, name), host: '127.0.0.1', port: 0, indexUrl: server.url, pollMs: 3_600_000, rssPollMs: 0, follow: false, feed },
    { PYTI_USER_TOKEN: USER });
  const m = await buildMasterApp(config, { feeds: { timers: new ManualTimers(), log: () => undefined } });
  await m.listen();
  const res = await fetch(`${m.url}/api/v1/subscriptions`, {
    method: 'POST', headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'everything', kind: 'all' }),
  });
  expect(res.status).toBe(201);
  return m;
}

async function api(m: MasterApp, path: string): Promise<any> {
  const res = await fetch(`${m.url}${path}`, { headers: { authorization: `Bearer ${USER}` } });
  expect(res.status).toBe(200);
  return res.json();
}

/** `project==version filename` of every audit, sorted (duplicates kept: each must appear once). */
async function audited(m: MasterApp): Promise<string[]> {
  return (await api(m, '/api/v1/subscriptions/everything/audits?limit=1000')).audits.map((a: any) => `${a.project}==${a.version} ${a.filename}`).sort();
}

/** The index paths requested since `mark` (`GET /simple/ 304`, …). */
const since = (server: IndexServer, mark: number) => server.requests.slice(mark).map((r) => `${r.method} ${r.path} ${r.status}`);

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'pyti-simple-follower-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('--feed simple', () => {
  let server: IndexServer;
  let m: MasterApp;
  let offset = 0;
  const pass = () => m.subscriptions.simple!.poll();

  beforeAll(async () => {
    server = await startIndexServer({ files: [], serialBase: 3000, clock: () => Date.now() + offset });
    await publish(server, 'before', '1.0');
    offset = -3 * DAY; // a project with a release three days before the master started
    await publish(server, 'established', '1.0');
    offset = 0;
    m = await startMaster(server, 'simple', 'simple-master');
  });
  afterAll(async () => {
    await m?.close();
    await server?.close();
  });

  test('the first pass fetches no page; a new file is audited exactly once; a 304 fetches nothing', async () => {
    let mark = server.requests.length;
    expect(await pass()).toMatchObject({ baseline: true, fetched: 0 });
    expect(since(server, mark)).toEqual(['GET /simple/ 200']);
    expect(await audited(m)).toEqual([]);

    await publish(server, 'alpha', '1.0');
    mark = server.requests.length;
    expect(await pass()).toMatchObject({ notModified: false, changed: 1, fetched: 1, newFiles: 1, submitted: 1 });
    expect(since(server, mark)).toContain('GET /simple/alpha/ 200');
    expect(since(server, mark).some((l) => l.startsWith('GET /simple/before/'))).toBe(false);
    expect(await audited(m)).toEqual(['alpha==1.0 alpha-1.0-py3-none-any.whl']);

    // Nothing changed: the root answers 304 and no page or JSON document is fetched.
    for (let i = 0; i < 3; i++) {
      mark = server.requests.length;
      expect(await pass()).toMatchObject({ notModified: true, fetched: 0, submitted: 0 });
      expect(since(server, mark)).toEqual(['GET /simple/ 304']);
    }
    expect(await audited(m)).toEqual(['alpha==1.0 alpha-1.0-py3-none-any.whl']);
    const feed = await api(m, '/api/v1/feed');
    expect(feed).toMatchObject({ mode: 'simple', following: false, simple: { notModified: 3, pagesFetched: 1, filesFound: 1, lastError: null } });
  });

  test('a changed project\'s new file is found; its old files are not submitted again', async () => {
    await publish(server, 'alpha', '1.1');
    await publish(server, 'beta', '0.1');
    const mark = server.requests.length;
    expect(await pass()).toMatchObject({ changed: 2, fetched: 2, newFiles: 2, submitted: 2 });
    expect(since(server, mark).filter((l) => l.startsWith('GET /simple/')).sort()).toEqual(['GET /simple/ 200', 'GET /simple/alpha/ 200', 'GET /simple/beta/ 200']);
    await pass();
    expect(await audited(m)).toEqual(['alpha==1.0 alpha-1.0-py3-none-any.whl', 'alpha==1.1 alpha-1.1-py3-none-any.whl', 'beta==0.1 beta-0.1-py3-none-any.whl']);
  });

  test('files uploaded more than 14 days before the follower started are not backfilled', async () => {
    offset = -20 * DAY;
    await publish(server, 'oldie', '1.0');
    offset = -10 * DAY;
    await publish(server, 'oldie', '2.0');
    offset = 0;
    expect(await pass()).toMatchObject({ fetched: 1, newFiles: 1, tooOld: 1, submitted: 1 });
    const audits = await audited(m);
    expect(audits.filter((a) => a.startsWith('oldie'))).toEqual(['oldie==2.0 oldie-2.0-py3-none-any.whl']);
    // Recorded as seen: a later pass over the project does not reconsider it.
    await publish(server, 'oldie', '3.0');
    expect(await pass()).toMatchObject({ fetched: 1, newFiles: 1, tooOld: 0, submitted: 1 });
    expect((await audited(m)).filter((a) => a.startsWith('oldie'))).toEqual(['oldie==2.0 oldie-2.0-py3-none-any.whl', 'oldie==3.0 oldie-3.0-py3-none-any.whl']);
  });
  test('a project listed at the first pass: its next upload is audited, not the files it had before following began', async () => {
    await publish(server, 'established', '2.0');
    expect(await pass()).toMatchObject({ changed: 1, fetched: 1, newFiles: 1, beforeStart: 1, submitted: 1 });
    expect((await audited(m)).filter((a) => a.startsWith('established'))).toEqual(['established==2.0 established-2.0-py3-none-any.whl']);
    // Recorded as seen: the next change does not bring it back.
    await publish(server, 'established', '2.1');
    expect(await pass()).toMatchObject({ fetched: 1, newFiles: 1, beforeStart: 0, submitted: 1 });
    expect((await audited(m)).filter((a) => a.startsWith('established'))).toEqual(['established==2.0 established-2.0-py3-none-any.whl', 'established==2.1 established-2.1-py3-none-any.whl']);
  });

  test('a broken project page is quarantined and the pass moves on; once fixed, its files are found', async () => {
    server.injectFaults({ badSimplePage: { project: 'zeta', kind: 'not-json' } });
    server.injectFaults({ badSimplePage: { project: 'theta', kind: 'other-project' } });
    server.injectFaults({ badSimplePage: { project: 'iota', kind: 'bad-status' } });
    for (const p of ['zeta', 'theta', 'iota', 'kappa']) await publish(server, p, '1.0');
    expect(await pass()).toMatchObject({ changed: 4, fetched: 1, quarantined: 3, submitted: 1 });
    const feed = await api(m, '/api/v1/feed');
    expect(feed).toMatchObject({ quarantined: 3, simple: { lastError: null } });
    const items = (await api(m, '/api/v1/feed/quarantine')).items.filter((i: any) => i.source === 'simple');
    expect(items.map((i: any) => [i.name, i.code]).sort()).toEqual([['iota', 'PYTI_INDEX_MALFORMED'], ['theta', 'PYTI_INDEX_MISMATCH'], ['zeta', 'PYTI_INDEX_MALFORMED']]);
    expect((await audited(m)).filter((a) => /^(zeta|theta|iota|kappa)==/.test(a))).toEqual(['kappa==1.0 kappa-1.0-py3-none-any.whl']);
    // Fixed, and a new upload: the page is read again and both its files are found.
    server.injectFaults({ badSimplePage: { project: 'zeta', kind: null } });
    await publish(server, 'zeta', '1.1');
    expect(await pass()).toMatchObject({ fetched: 1, quarantined: 0, submitted: 2 });
    expect((await audited(m)).filter((a) => a.startsWith('zeta'))).toEqual(['zeta==1.0 zeta-1.0-py3-none-any.whl', 'zeta==1.1 zeta-1.1-py3-none-any.whl']);
  });

  test('a project whose page does not answer fails the pass; the next pass reads only that project', async () => {
    server.injectFaults({ badSimplePage: { project: 'lambda', kind: 'server-error' } });
    for (const p of ['lambda', 'mu', 'nu']) await publish(server, p, '1.0');
    await expect(pass()).rejects.toMatchObject({ code: 'PYTI_INDEX_UNREACHABLE' });
    expect((await api(m, '/api/v1/feed')).simple.lastError).toMatchObject({ code: 'PYTI_INDEX_UNREACHABLE' });
    expect((await audited(m)).filter((a) => /^(lambda|mu|nu)==/.test(a))).toEqual(['mu==1.0 mu-1.0-py3-none-any.whl', 'nu==1.0 nu-1.0-py3-none-any.whl']);
    server.injectFaults({ badSimplePage: { project: 'lambda', kind: null } });
    const mark = server.requests.length;
    expect(await pass()).toMatchObject({ changed: 1, fetched: 1, submitted: 1 });
    expect(since(server, mark).filter((l) => l.startsWith('GET /simple/'))).toEqual(['GET /simple/ 200', 'GET /simple/lambda/ 200']);
    expect((await audited(m)).filter((a) => /^(lambda|mu|nu)==/.test(a))).toEqual(['lambda==1.0 lambda-1.0-py3-none-any.whl', 'mu==1.0 mu-1.0-py3-none-any.whl', 'nu==1.0 nu-1.0-py3-none-any.whl']);
    expect((await api(m, '/api/v1/feed')).simple.lastError).toBeNull();
    expect(await pass()).toMatchObject({ notModified: true });
  });

  test('--feed takes changelog, simple or both', () => {
    expect(() => loadMasterConfig({ data: join(tmp, 'x'), feed: 'rss' }, {})).toThrow(/--feed: "rss" is not changelog, simple or both/);
    expect(loadMasterConfig({ data: join(tmp, 'x'), feed: 'both' }, {})).toMatchObject({ feed: 'both', simplePollMs: 600_000 });
    expect(loadMasterConfig({ data: join(tmp, 'x') }, {})).toMatchObject({ feed: 'changelog' });
  });
});

describe('--feed both (the change log, and /simple/ as a reconciliation pass)', () => {
  let server: IndexServer;
  let m: MasterApp;

  beforeAll(async () => {
    server = await startIndexServer({ files: [], serialBase: 9000 });
    await publish(server, 'before', '1.0');
    m = await startMaster(server, 'both', 'both-master');
  });
  afterAll(async () => {
    await m?.close();
    await server?.close();
  });

  test('what the change log audited is not audited again by the pass; what it has not seen yet is, once', async () => {
    await m.subscriptions.follower.pollChangelog();
    await m.subscriptions.simple!.poll();
    await publish(server, 'gamma', '1.0');
    await m.subscriptions.follower.pollChangelog();
    expect(await audited(m)).toEqual(['gamma==1.0 gamma-1.0-py3-none-any.whl']);
    expect(await m.subscriptions.simple!.poll()).toMatchObject({ fetched: 1, newFiles: 0, submitted: 0 });
    // A file the change log has not reached yet: the pass finds it; the change log then adds nothing.
    await publish(server, 'delta', '1.0');
    expect(await m.subscriptions.simple!.poll()).toMatchObject({ newFiles: 1, submitted: 1 });
    await m.subscriptions.follower.pollChangelog();
    expect(await audited(m)).toEqual(['delta==1.0 delta-1.0-py3-none-any.whl', 'gamma==1.0 gamma-1.0-py3-none-any.whl']);
    expect((await api(m, '/api/v1/feed')).mode).toBe('both');
  });
});
