/**
 * PEP 792 project status as a ground truth for verdict quality (issue 14, item 4): a real master and
 * the test index (whose project status is settable; its JSON Simple page carries `project-status`).
 * Followed through `/simple/` (`--feed simple`) or through the change log (`--feed changelog`, where a
 * status change is an entry the ingest ignores, and the master reads the audited project's page):
 *
 * - audits finish (a slave completes them through the command API), then the index quarantines one
 *   project and archives another;
 * - the master records each status; the quarantined project's audit is marked `quarantinedAfter` in
 *   `GET /api/v1/audits/:id` and on its page (the reason escaped), the archived one is shown but not
 *   marked; the project page and `GET /api/v1/projects/:name` show the status; `GET /api/v1/project-status` lists both with the audits that finished before, and verdicts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MasterKit } from '../../master/src/testing/master-socket-kit.js';
import { tinyReport, tinyWheel } from '../../master/src/testing/tiny-dists.js';
import { ManualTimers } from '../../master/src/subscriptions/subscription-test-kit.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

describe.each(['simple', 'changelog'] as const)('--feed %s', (feed) => {
  let tmp: string;
  let server: IndexServer;
  let k: MasterKit;
  const log: string[] = [];
  const follow = async () => (feed === 'simple' ? k.m.subscriptions.simple!.poll() : k.m.subscriptions.follower.pollChangelog());

  async function publish(name: string, version: string): Promise<void> {
    const w = tinyWheel(name, version);
    writeFileSync(join(tmp, w.filename), w.bytes);
    await server.publish(join(tmp, w.filename));
  }

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pyti-project-status-'));
    mkdirSync(tmp, { recursive: true });
    server = await startIndexServer({ files: [], serialBase: 4000 });
    await publish('seed', '1.0');
    k = await MasterKit.start({ indexUrl: server.url, feed, pollMs: 3_600_000, rssPollMs: 0 }, { feeds: { timers: new ManualTimers(), log: (l) => log.push(l) } });
    expect((await k.request('POST', '/api/v1/subscriptions', { body: { name: 'everything', kind: 'all' } })).status).toBe(201);
    await follow();
  });
  afterAll(async () => {
    await k?.close();
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('a project quarantined after its audit marks that audit; other statuses are shown, not marked', async () => {
    await publish('evil', '1.0');
    await publish('tired', '1.0');
    await follow();
    const audits = ((await k.request('GET', '/api/v1/subscriptions/everything/audits')).json().audits as { audit: { id: string }; project: string; filename: string }[])
      .map((a) => ({ id: a.audit.id, project: a.project, filename: a.filename }));
    expect(audits.map((a) => a.project).sort()).toEqual(['evil', 'tired']);
    // A slave audits both: the verdicts are clean.
    await k.register('s1');
    for (const lease of await k.lease('s1', 2)) {
      const a = audits.find((x) => x.id === lease.jobId)!;
      const report = tinyReport(a.project, '1.0', 'clean');
      (report.distribution as Record<string, unknown>).filename = a.filename;
      (report.distribution as Record<string, unknown>).kind = 'wheel';
      expect(await k.rpc('s1', 'jobs.complete', { leaseId: lease.leaseId, outcome: { kind: 'report', report, artifacts: [] } })).toEqual({ stored: true });
    }
    const evil = audits.find((a) => a.project === 'evil')!.id;
    const tired = audits.find((a) => a.project === 'tired')!.id;
    expect((await k.request('GET', `/api/v1/audits/${evil}`)).json().projectStatus).toBeNull();

    server.setProjectStatus('evil', 'quarantined', 'malware <script>alert(1)</script>');
    server.setProjectStatus('tired', 'archived');
    await follow();

    expect((await k.request('GET', `/api/v1/audits/${evil}`)).json()).toMatchObject({
      verdict: 'clean', projectStatus: { status: 'quarantined', reason: 'malware <script>alert(1)</script>', quarantinedAfter: true },
    });
    expect((await k.request('GET', `/api/v1/audits/${tired}`)).json().projectStatus).toMatchObject({ status: 'archived', reason: null, quarantinedAfter: false });

    const page = (await k.request('GET', `/audits/${evil}`)).body;
    expect(page).toContain('quarantined</strong> this project after this audit finished');
    expect(page).toContain('malware &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<script>alert(1)');
    expect((await k.request('GET', `/audits/${tired}`)).body).toContain('marks this project <strong>archived</strong>');
    // The project page and its JSON show the status too.
    expect((await k.request('GET', '/api/v1/projects/evil')).json().status).toMatchObject({ status: 'quarantined', auditsBeforeQuarantine: 1 });
    const projectPage = (await k.request('GET', '/projects/evil')).body;
    expect(projectPage).toContain('marks this project <strong>quarantined</strong>');
    expect(projectPage).toContain('1 audit finished before the quarantine');
    expect(projectPage).not.toContain('<script>alert(1)');

    const list = (await k.request('GET', '/api/v1/project-status')).json().projects as { project: string; status: string; auditsBefore: { id: string; verdict: string }[] }[];
    expect(list.map((p) => [p.project, p.status, p.auditsBefore.map((a) => [a.id, a.verdict])]).sort()).toEqual([
      ['evil', 'quarantined', [[evil, 'clean']]],
      ['tired', 'archived', [[tired, 'clean']]],
    ]);
    expect(log.some((l) => /evil.*quarantined \(PEP 792\)/.test(l))).toBe(true);

    // Back to active: the audit is no longer marked.
    server.setProjectStatus('evil', 'active');
    await follow();
    expect((await k.request('GET', `/api/v1/audits/${evil}`)).json().projectStatus).toBeNull();
    expect((await k.request('GET', '/api/v1/projects/evil')).json().status).toBeNull();
  });
});
