// The audit list's filters, paging and whole-queue counts through GET /api/v1/audits and the list page,
// against a real master (socket, SQLite) holding real reports.
import Database from 'better-sqlite3';
import type { AuditSummary } from '../user-api.js';
import { HistoryKit, diffdemoReport, reportAs } from '../testing/history-kit.js';

let kit: HistoryKit;
const ids: Record<string, string> = {};
const list = async (q: string): Promise<{ audits: AuditSummary[]; total: number; counts: Record<string, number> }> => {
  const r = await kit.get(`/api/v1/audits?${q}`);
  if (r.status !== 200) throw new Error(`${q}: ${r.status} ${r.body}`);
  return r.json();
};
const idsOf = async (q: string): Promise<string[]> => (await list(q)).audits.map((a) => a.id);

beforeAll(async () => {
  kit = await HistoryKit.start();
  const clean = diffdemoReport('1.0');
  const flagged = diffdemoReport('1.1');
  ids.clean = await kit.audit('diffdemo', '1.0', clean);
  ids.flagged = await kit.audit('diffdemo', '1.1', flagged, { slave: 'slave-b' });
  const failing = reportAs(clean, 'Zope.Interface', '6.0');
  failing.result = 'build-fail:deps';
  failing.verdict = 'failed';
  // The master decides the result from the tasks (rpc/report-consistency.ts): the build task must say so too.
  failing.tasks = failing.tasks.map((t) => (t.id === 'build' ? { ...t, status: 'fail' } : t));
  ids.failing = await kit.audit('Zope.Interface', '6.0', failing, { backend: 'qemu' });
  ids.zope61 = (await kit.submit('zope-interface', '6.1')).id;
  ids.requests = (await kit.submit('requests', '2.32.3')).id;
  // Leases go by priority, then first in first out: zope-interface 6.1 runs, requests stays queued.
  await kit.rpc('slave-a', 'jobs.lease', { max: 1, waitMs: 0 });
  // Link the flagged audit to a subscription as the feed follower does.
  const created = await fetch(`${kit.url}/api/v1/subscriptions`, {
    method: 'POST', headers: { authorization: 'Bearer user-token-history-0123456789', 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'watch-demo', kind: 'projects', projects: ['diffdemo'] }),
  });
  expect(created.status).toBe(201);
  const db = new Database(kit.dbFile);
  db.prepare(`INSERT INTO subscription_jobs (job_id, subscription_id, normalized, version, filename, serial, created_at)
    SELECT ?, id, 'diffdemo', '1.1', 'diffdemo-1.1.tar.gz', 1, 0 FROM subscriptions WHERE name = 'watch-demo'`).run(ids.flagged);
  db.close();
});
afterAll(() => kit.close());

describe('GET /api/v1/audits filters', () => {
  it('counts the whole queue, whatever the filters and the page', async () => {
    const one = await list('limit=1');
    expect(one.audits).toHaveLength(1);
    expect(one.total).toBe(5);
    expect(one.counts).toEqual({ total: 5, queued: 1, running: 1, done: 3, error: 0, cancelled: 0, failed: 1, flagged: 1, malicious: 0, suspicious: 1, clean: 1 });
    expect((await list('verdict=clean')).counts.total).toBe(5);
  });

  it('filters by verdict (flagged: malicious or suspicious), result family, state, backend and slave', async () => {
    expect(await idsOf('verdict=flagged')).toEqual([ids.flagged]);
    expect(await idsOf('verdict=clean')).toEqual([ids.clean]);
    expect(await idsOf('result=build-fail')).toEqual([ids.failing]);
    expect(await idsOf('result=build-fail:deps')).toEqual([ids.failing]);
    expect(await idsOf('result=build')).toEqual([]);
    expect(await idsOf('state=done&backend=qemu')).toEqual([ids.failing]);
    expect(await idsOf('slave=slave-b')).toEqual([ids.flagged]);
    expect(await idsOf('state=running')).toEqual([ids.zope61]);
    expect(await idsOf('state=queued')).toEqual([ids.requests]);
  });

  it('filters by project in any spelling, searches names, and by subscription and finding rule', async () => {
    expect(await idsOf('project=zope_interface')).toEqual([ids.zope61, ids.failing]);
    expect(await idsOf('q=ZOPE')).toEqual([ids.zope61, ids.failing]);
    expect(await idsOf('q=demo')).toEqual([ids.flagged, ids.clean]);
    expect(await idsOf('subscription=watch-demo')).toEqual([ids.flagged]);
    expect(await idsOf('rule=dns-lookup')).toEqual([ids.flagged]);
    expect(await idsOf('rule=no-such-rule')).toEqual([]);
  });

  it('filters by submission date and pages with offset or after', async () => {
    const today = new Date().toISOString().slice(0, 10);
    expect(await idsOf(`since=${today}&until=${today}`)).toHaveLength(5);
    expect(await idsOf('until=2000-01-01')).toEqual([]);
    expect(await idsOf(`since=${new Date(Date.now() + 3_600_000).toISOString().slice(0, 19)}Z`)).toEqual([]);
    const all = await idsOf('limit=5');
    expect(await idsOf('limit=2&offset=2')).toEqual(all.slice(2, 4));
    expect(await idsOf(`limit=2&after=${all[1]}`)).toEqual(all.slice(2, 4));
    const page = await list('limit=2&offset=4');
    expect([page.audits.length, page.total]).toEqual([1, 5]);
  });

  it('refuses a bad filter with 400 PYTI_USAGE naming the field', async () => {
    for (const [q, field] of [['verdict=evil', 'verdict'], ['limit=0', 'limit'], ['since=yesterday', 'since'], ['q=%3Cscript%3E', 'q'],
      ['offset=-1', 'offset'], ['rule=A%20B', 'rule'], ['project=..', 'project'], ['after=x&offset=3', 'offset']] as const) {
      const r = await kit.get(`/api/v1/audits?${q}`);
      expect([q, r.status, r.json().error.code]).toEqual([q, 400, 'PYTI_USAGE']);
      expect(r.json().error.message).toMatch(new RegExp(`^${field}: `));
    }
    expect((await kit.get('/api/v1/audits?after=unknown')).status).toBe(404);
  });
});

describe('the list page', () => {
  it('shows whole-queue counts, the filter form with its values, and pager links', async () => {
    const html = (await kit.get('/?limit=2&q=demo')).body;
    expect(html).toContain('5 audits · <a href="/?state=queued">1 queued</a> · <a href="/?state=running">1 running</a>');
    expect(html).toContain('<a href="/?verdict=failed">1 failed</a> · <a href="/?verdict=flagged">1 flagged</a>');
    expect(html).toContain('<form class="filters" method="get" action="/" role="search">');
    expect(html).toContain('name="q" value="demo"');
    expect(html).toContain('<span class="muted">2 matching</span>');
    const paged = (await kit.get('/?limit=2')).body;
    expect(paged).toContain('<a rel="next" href="/?limit=2&amp;offset=2">older →</a>');
    expect(paged).toContain('1–2 of 5 matching');
    expect((await kit.get('/?limit=2&offset=4')).body).toContain('<a rel="prev" href="/?limit=2&amp;offset=2">← newer</a>');
    expect((await kit.get('/?q=nothing-matches')).body).toContain('No audits match these filters.');
    expect((await kit.get('/?verdict=%3Cb%3E')).status).toBe(400);
  });

  it('polls the API with the same filters while something is live', async () => {
    const html = (await kit.get('/?q=zope&limit=10')).body;
    expect(html).toContain('var QUERY = "q=zope\\u0026limit=10"');
  });
});
