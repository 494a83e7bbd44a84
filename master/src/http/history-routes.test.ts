// Project pages, release diffs and the links between audits, against a real master (socket, SQLite)
// holding real reports of the diffdemo fixture (1.0 clean; 1.1 phones home at import).
import type { AuditDiff } from '../diff/audit-diff-types.js';
import { HistoryKit, diffdemoReport, reportAs } from '../testing/history-kit.js';
import type { ProjectHistoryBody } from './history-routes.js';

let kit: HistoryKit;
const ids: Record<string, string> = {};
const HOSTILE = '<img src=x onerror=alert(1)>"\'&';

beforeAll(async () => {
  kit = await HistoryKit.start();
  const v10 = diffdemoReport('1.0');
  const v11 = diffdemoReport('1.1');
  // Versions submitted out of order, one release audited twice, a second project with hostile metadata.
  ids.v11 = await kit.audit('diffdemo', '1.1', v11);
  ids.v10 = await kit.audit('DiffDemo', '1.0', v10);
  ids.v09 = await kit.audit('diffdemo', '0.9', reportAs(v10, 'diffdemo', '0.9'));
  ids.v11again = await kit.audit('diffdemo', '1.1', v11);
  const hostile = reportAs(v10, 'other-pkg', '2.0');
  hostile.distribution.summary = HOSTILE;
  ids.other = await kit.audit('other_pkg', '2.0', hostile);
  ids.queued = (await kit.submit('diffdemo', '1.2')).id;
});
afterAll(() => kit.close());

describe('project history', () => {
  it('GET /api/v1/projects/:name lists releases newest version first with every audit, any spelling of the name', async () => {
    const r = await kit.get('/api/v1/projects/Diff_Demo');
    expect(r.status).toBe(404); // "diff-demo" is another project
    const p = (await kit.get('/api/v1/projects/DIFFDEMO')).json() as ProjectHistoryBody;
    expect(p.project).toBe('diffdemo');
    expect(p.total).toBe(5);
    expect(p.metadata).toMatchObject({ name: 'diffdemo', version: '1.1' });
    expect(p.releases.map((x) => x.version)).toEqual(['1.2', '1.1', '1.0', '0.9']);
    expect(p.releases[1]!.audits.map((a) => a.id)).toEqual([ids.v11again, ids.v11]);
    expect(p.releases[1]!.previous).toEqual({ version: '1.0', auditId: ids.v10 });
    expect(p.releases[1]!.diff).toBe(`/api/v1/diff?from=${ids.v10}&to=${ids.v11again}`);
    expect(p.releases[0]!.diff).toBeNull(); // queued: nothing to diff yet
    expect(p.releases[3]!.previous).toBeNull();
  });

  it('links every audit to the previous release and to the previous audit of the same file', async () => {
    const again = (await kit.get(`/api/v1/audits/${ids.v11again}`)).json();
    expect(again.history.previousRelease).toMatchObject({ id: ids.v10, version: '1.0', verdict: 'clean' });
    expect(again.history.previousOfSameRelease).toMatchObject({ id: ids.v11, version: '1.1' });
    // 1.1 was audited before 1.0 and 0.9, yet its previous release is 1.0 (version order, not submission order).
    expect((await kit.get(`/api/v1/audits/${ids.v11}`)).json().history).toMatchObject({ previousRelease: { id: ids.v10 }, previousOfSameRelease: null });
    expect((await kit.get(`/api/v1/audits/${ids.v10}`)).json().history.previousRelease).toMatchObject({ id: ids.v09 });
    expect((await kit.get(`/api/v1/audits/${ids.v09}`)).json().history).toEqual({ previousRelease: null, previousOfSameRelease: null });
  });

  it('serves the project page as a timeline with diff links, escaping the metadata', async () => {
    const redirect = await kit.get('/projects/DiffDemo');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/projects/diffdemo');
    const html = (await kit.get('/projects/diffdemo')).body;
    expect(html).toContain('<h1>diffdemo</h1>');
    expect(html.indexOf('id="release-1.2"')).toBeLessThan(html.indexOf('id="release-1.1"'));
    expect(html.indexOf('id="release-1.1"')).toBeLessThan(html.indexOf('id="release-0.9"'));
    expect(html).toContain(`href="/projects/diffdemo/diff?from=${ids.v10}&amp;to=${ids.v11again}">what changed since 1.0</a>`);
    expect(html).toContain(`<form class="filters" method="get" action="/projects/diffdemo/diff">`);
    const other = (await kit.get('/projects/other-pkg')).body;
    expect(other).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
    expect(other).not.toContain('<img src=x');
    expect((await kit.get('/projects/nothing-here')).status).toBe(404);
    expect((await kit.get('/projects/..%2Fetc')).status).toBe(400);
  });

  it('a flagged audit page says what is new since the previous release and links the full diff', async () => {
    const html = (await kit.get(`/audits/${ids.v11again}`)).body;
    expect(html).toContain('<h2>New since 1.0</h2>');
    expect(html).toContain('new DNS lookup in import: diffdemo-beacon.invalid');
    expect(html).toContain(`href="/projects/diffdemo/diff?from=${ids.v10}&amp;to=${ids.v11again}">the full diff with 1.0</a>`);
    expect(html).toContain(`href="/audits/${ids.v11}">1.1</a>`); // previous audit of the same file
    // A clean audit links its history but has no "New since" section.
    const clean = (await kit.get(`/audits/${ids.v10}`)).body;
    expect(clean).toContain(`href="/audits/${ids.v09}">0.9</a>`);
    expect(clean).not.toContain('New since');
  });
});

describe('release diff', () => {
  it('GET /api/v1/diff by audit ids and by project and versions names the new network call', async () => {
    const byIds = (await kit.get(`/api/v1/diff?from=${ids.v10}&to=${ids.v11}`)).json() as AuditDiff;
    expect(byIds.from.auditId).toBe(ids.v10);
    expect(byIds.dns.added).toContainEqual({ phase: 'import', text: 'diffdemo-beacon.invalid' });
    const byVersions = (await kit.get('/api/v1/diff?project=DiffDemo&from=1.0&to=1.1')).json() as AuditDiff;
    expect(byVersions.to.auditId).toBe(ids.v11again); // the newest audit of 1.1
    expect(byVersions.network.added).toContainEqual({ phase: 'import', text: 'connect 127.0.0.1:9/tcp' });
  });

  it('answers bad requests with stable codes', async () => {
    expect((await kit.get(`/api/v1/diff?from=${ids.v10}`)).json().error).toMatchObject({ code: 'PYTI_USAGE', message: expect.stringContaining('to') });
    const unknown = await kit.get(`/api/v1/diff?from=${ids.v10}&to=nope`);
    expect([unknown.status, unknown.json().error.code]).toEqual([404, 'PYTI_JOB_NOT_FOUND']);
    const noVersion = await kit.get('/api/v1/diff?project=diffdemo&from=1.0&to=7.7');
    expect([noVersion.status, noVersion.json().error.code]).toEqual([404, 'PYTI_JOB_NOT_FOUND']);
    const queued = await kit.get(`/api/v1/diff?from=${ids.v10}&to=${ids.queued}`);
    expect([queued.status, queued.json().error.code]).toEqual([409, 'PYTI_REPORT_NOT_READY']);
    expect((await kit.get(`/api/v1/diff?from=${ids.v10}&to=${ids.v11}`, null)).status).toBe(401);
  });

  it('serves the diff page: sections with what is new, escaped, and the audits linked', async () => {
    const r = await kit.get(`/projects/diffdemo/diff?from=1.0&to=${ids.v11}`);
    expect(r.status).toBe(200);
    expect(r.body).toContain('<h1>diffdemo: 1.0 → 1.1</h1>');
    expect(r.body).toContain('<h2>DNS names looked up</h2>');
    expect(r.body).toContain('<code>diffdemo-beacon.invalid</code>');
    expect(r.body).toContain('<code>tests/test_diffdemo.py::test_greet_strips</code>');
    expect(r.body).toContain(`<a href="/audits/${ids.v11}">`);
    expect(r.body).not.toMatch(/<script/);
    expect((await kit.get('/projects/diffdemo/diff?from=1.0&to=9.9')).status).toBe(404);
  });
});
