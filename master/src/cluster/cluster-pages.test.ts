// The cluster pages and their JSON twins against a real master on a socket with real queue state:
// slaves registered and driven through the command API, drained from the page's form, latency
// percentiles from really completed jobs, a real git subscription's cursor and audits.
import { jest } from '@jest/globals';
import { join } from 'node:path';
import { ManualClock } from '../queue/clock.js';
import { until } from '../testing/cli-test-kit.js';
import { TestGitRepo } from '../testing/git-repo-kit.js';
import { KIT_USER, MasterKit } from '../testing/master-socket-kit.js';
import { testStores } from '../testing/store-kit.js';
import { tinyReport } from '../testing/tiny-dists.js';

jest.setTimeout(60_000);

const report = (name: string) => ({ kind: 'report', report: tinyReport(name, '1.0'), artifacts: [] });


const stores = testStores();

describe.each(stores.kinds)('cluster pages on %s', (kind) => {
  const storeFlags = async () => (kind === 'postgres' ? { database: await stores.location('postgres') } : {});

describe('slaves: page, API, drain', () => {
  let k: MasterKit;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock();
    k = await MasterKit.start(await storeFlags(), { clock, stats: { everyMs: 0 } });
  });
  afterEach(() => k.close());

  const submit = async (project: string) => (await k.request('POST', '/api/v1/audits', { body: { project, version: '1.0' } })).json();

  it('shows backends, capacity, running jobs, the last hour\'s throughput and heartbeats; a drained slave leases nothing', async () => {
    await k.register('s1', 'host-one');
    await k.register('s2', '<img src=x onerror=alert(1)>');
    await submit('alpha');
    await submit('beta');
    const [a1] = await k.lease('s1');
    const [a2] = await k.lease('s2');
    clock.advance(5_000);
    expect(await k.rpc('s1', 'jobs.complete', { leaseId: a1!.leaseId, outcome: report('alpha') })).toEqual({ stored: true });
    await k.rpc('s2', 'slave.heartbeat', { leases: [a2!.leaseId], draining: false });

    const api = (await k.request('GET', '/api/v1/slaves')).json().slaves;
    expect(api.map((s: any) => [s.name, s.backends, s.capacity, s.running, s.completedLastHour, s.status])).toEqual([
      ['s1', ['bwrap'], 2, 0, 1, 'idle'],
      ['s2', ['bwrap'], 2, 1, 0, 'working'],
    ]);
    expect(api[1].lastSeen).toBe(new Date(clock.now()).toISOString());
    // Completions older than an hour drop out of the throughput.
    clock.advance(3_600_001);
    expect((await k.request('GET', '/api/v1/slaves')).json().slaves[0].completedLastHour).toBe(0);
    clock.advance(-3_600_001);

    // The page needs the token (even to read), takes it once from ?token= into the cookie.
    expect((await k.request('GET', '/slaves', { token: null })).status).toBe(401);
    const login = await k.request('GET', `/slaves?token=${KIT_USER}`, { token: null });
    expect(login.status).toBe(303);
    const cookie = login.headers['set-cookie']!.split(';')[0]!;
    const page = await k.request('GET', '/slaves', { token: null, headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<tr id="slave-s2" class="tone-green" data-status="working">');
    expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page.body).not.toContain('<img');
    expect(page.body).not.toMatch(/<script|<[a-z]+(?:\s+[a-z-]+(?:="[^"]*")?)*\s+on[a-z]+=/i);
    expect(page.body).toContain('<form method="post" action="/slaves/s2/drain"><button type="submit">drain</button></form>');

    // The drain form: a POST with the cookie, from this origin only.
    const own = new URL(k.url).origin;
    const form = (path: string, headers: Record<string, string>) =>
      k.request('POST', path, { token: null, body: '', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
    const cross = await form('/slaves/s2/drain', { cookie, origin: 'http://evil.invalid' });
    expect([cross.status, cross.json().error.code]).toEqual([403, 'PYTI_CSRF']);
    expect((await form('/slaves/s2/drain', { cookie, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await form('/slaves/s2/drain', { cookie })).status).toBe(403);
    expect((await form('/slaves/s2/drain', { origin: own })).json().error.code).toBe('PYTI_AUTH');
    expect((await form('/slaves/nobody/drain', { cookie, origin: own })).json().error.code).toBe('PYTI_SLAVE_NOT_FOUND');
    expect((await k.request('GET', '/api/v1/slaves')).json().slaves[1].drainRequested).toBe(false);
    const drained = await form('/slaves/s2/drain', { cookie, origin: own });
    expect([drained.status, drained.headers.location]).toEqual([303, '/slaves']);

    // s2 hears it at its next heartbeat, keeps its running job, and gets no new one; s1 does.
    await submit('gamma');
    const hb = await k.rpc('s2', 'slave.heartbeat', { leases: [a2!.leaseId], draining: false });
    expect(hb.commands).toEqual([{ kind: 'drain' }]);
    expect(hb.extended.map((e: any) => e.leaseId)).toEqual([a2!.leaseId]);
    expect(await k.lease('s2')).toEqual([]);
    const [g] = await k.lease('s1');
    expect(g).toBeDefined();
    const after = await k.request('GET', '/slaves', { token: null, headers: { cookie } });
    expect(after.body).toContain('data-status="drain-requested"');
    expect(after.body).toContain('action="/slaves/s2/undrain"');

    // Undrain (the form, then the API) withdraws the request: s2 leases again.
    expect((await form('/slaves/s2/undrain', { cookie, 'sec-fetch-site': 'same-origin' })).status).toBe(303);
    expect((await k.request('GET', '/api/v1/slaves')).json().slaves[1]).toMatchObject({ drainRequested: false, status: 'working' });
    await submit('delta');
    expect((await k.lease('s2')).length).toBe(1);
    expect((await k.request('POST', '/api/v1/slaves/s2/undrain', { token: null })).status).toBe(401);
    expect((await k.request('POST', '/api/v1/slaves/s2/undrain')).json()).toMatchObject({ name: 's2', drainRequested: false });
    expect((await k.request('POST', '/api/v1/slaves/zzz/undrain')).json().error.code).toBe('PYTI_SLAVE_NOT_FOUND');
  });
});

describe('stats: queue depth and upload-to-verdict latency', () => {
  let k: MasterKit;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock();
    k = await MasterKit.start(await storeFlags(), { clock, stats: { everyMs: 0, maxSamples: 3 } });
  });
  afterEach(() => k.close());

  it('samples p50/p95 of really completed jobs, shows them as a table and SVG charts, keeps a bounded history', async () => {
    await k.register('s1', 'h', { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 4 });
    for (const p of ['a', 'b', 'c', 'd']) expect((await k.request('POST', '/api/v1/audits', { body: { project: p, version: '1.0' } })).status).toBe(202);
    const first = k.m.stats.sample();
    expect(first).toMatchObject({ queued: 4, running: 0, finished: 0, latencyP50Ms: null, latencyP95Ms: null });
    const leases = await k.lease('s1', 3);
    // Verdicts after 10 s, 30 s and 100 s; the fourth audit stays queued.
    for (const [i, wait] of [[0, 10_000], [1, 20_000], [2, 70_000]] as const) {
      clock.advance(wait);
      await k.rpc('s1', 'jobs.complete', { leaseId: leases[i]!.leaseId, outcome: report(`x${i}`) });
    }
    const s = k.m.stats.sample();
    expect(s).toMatchObject({ queued: 1, running: 0, finished: 3, latencyP50Ms: 30_000, latencyP95Ms: 100_000 });
    const view = (await k.request('GET', '/api/v1/stats')).json();
    expect(view.now).toEqual({ queued: 1, running: 0 });
    expect(view.lastHour).toEqual({ finished: 3, latencyP50Ms: 30_000, latencyP95Ms: 100_000 });
    expect(view.samples.map((x: any) => x.finished)).toEqual([0, 3]);

    const page = await k.request('GET', '/stats');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<svg class="chart"');
    // p95 at the chart's top (100 s is its maximum); the empty first sample leaves a gap.
    expect(page.body).toContain('<g class="series"><title>p95</title><circle cx="636" cy="4" r="2" fill="#b3261e"/></g>');
    expect(page.body).toContain('<td class="num">30.0 s</td><td class="num">1 min 40 s</td>');
    expect(page.body).not.toContain('<script');

    // No new verdict: an empty window; retention keeps the newest 3 samples.
    clock.advance(60_000);
    k.m.stats.sample();
    clock.advance(60_000);
    expect(k.m.stats.sample()).toMatchObject({ finished: 0, latencyP50Ms: null });
    const kept = (await k.request('GET', '/api/v1/stats')).json().samples;
    expect(kept.map((x: any) => x.finished)).toEqual([3, 0, 0]);
    expect((await k.request('GET', '/api/v1/stats?limit=0')).json().error.code).toBe('PYTI_USAGE');
    expect((await k.request('GET', '/api/v1/stats', { token: null })).status).toBe(401);
  });
});

describe('subscriptions: cursor, lag, backlog and audits', () => {
  let k: MasterKit;
  let repo: TestGitRepo;
  beforeAll(async () => {
    k = await MasterKit.start({ gitPollMs: 200, ...(await storeFlags()) });
    repo = new TestGitRepo(join(k.dir, 'app'));
    repo.commit('first', { 'pyproject.toml': '[project]\nname = "git-app"\nversion = "1"\n' });
  });
  afterAll(() => k.close());

  it('lists each subscription with its cursor, lag and backlog, and pages its audits', async () => {
    const created = await k.request('POST', '/api/v1/subscriptions', { body: { name: 'app-main', kind: 'git', repo: repo.dir, branch: 'main', backlog: 5 } });
    expect(created.status).toBe(201);
    const head1 = repo.head();
    await until('the first poll', async () => {
      const s = (await k.request('GET', '/api/v1/cluster/subscriptions')).json().subscriptions[0];
      return s.cursor.commit === head1 ? s : undefined;
    });
    const c2 = repo.commit('second', { 'a.py': 'x = 1\n' });
    const c3 = repo.commit('third', { 'b.py': 'y = 2\n' });
    const st = await until('the next poll', async () => {
      const s = (await k.request('GET', '/api/v1/cluster/subscriptions')).json().subscriptions[0];
      return s.cursor.commit === c3 ? s : undefined;
    });
    expect(st).toMatchObject({ cursor: { kind: 'commit', commit: c3, head: c3 }, lag: { headAhead: false, serials: null }, backlog: { queued: 3, running: 0, limit: 5, full: false }, lastError: null });
    expect(st.lag.sinceLastSuccessMs).toBeGreaterThanOrEqual(0);
    expect(st.lag.oldestQueuedMs).toBeGreaterThanOrEqual(0);

    const list = await k.request('GET', '/subscriptions');
    expect(list.body).toContain(`<a href="/subscriptions/app-main">app-main</a>`);
    expect(list.body).toContain(`commit ${c3.slice(0, 12)}`);
    expect(list.body).toContain('3 queued, 0 running (limit 5, drop-oldest)');

    // Paged, newest first: 2 then 1.
    const p1 = (await k.request('GET', '/api/v1/cluster/subscriptions/app-main?limit=2')).json();
    expect(p1.total).toBe(3);
    expect(p1.audits.map((a: any) => a.version)).toEqual([c3, c2]);
    const p2 = (await k.request('GET', `/api/v1/cluster/subscriptions/app-main?limit=2&before=${p1.next}`)).json();
    expect([p2.audits.map((a: any) => a.version), p2.next]).toEqual([[head1], null]);
    const page = await k.request('GET', '/subscriptions/app-main?limit=2');
    expect(page.body).toContain('<h1>Subscription app-main</h1>');
    expect(page.body).toContain(`href="/subscriptions/app-main?before=${p1.next}&amp;limit=2"`);
    expect((page.body.match(/<tr id="audit-/g) ?? []).length).toBe(2);
    expect((await k.request('GET', '/subscriptions/nope')).status).toBe(404);
    expect((await k.request('GET', '/api/v1/cluster/subscriptions/nope')).json().error.code).toBe('PYTI_SUBSCRIPTION_NOT_FOUND');
    expect((await k.request('GET', '/api/v1/cluster/subscriptions/app-main?before=x')).status).toBe(400);
  });
});
});
