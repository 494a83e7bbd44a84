// Upload-to-verdict latency: from the index's upload time of a file a subscription audits (else the
// submission) to its stored report; recorded on the job, in the API's detail, on the audit page, in
// /api/v1/stats' percentiles and in /metrics' histogram.
import { openDatabase, type Db } from '../db/database.js';
import { ManualClock } from './clock.js';
import { JobQueue } from './job-queue.js';
import { ChangeIngest } from '../subscriptions/change-ingest.js';
import { FeedCursor } from '../subscriptions/feed-cursor.js';
import { checkCreate } from '../subscriptions/subscription-request.js';
import { SubscriptionStore } from '../subscriptions/subscription-store.js';
import { selectFilesToAudit } from '../feeds/release-files.js';
import { MemoryIndex, changeEvent as ev } from '../subscriptions/subscription-test-kit.js';
import { QueueStats } from '../cluster/queue-stats.js';
import { MasterMetrics } from '../cluster/master-metrics.js';
import { renderAuditPage } from '../web/audit-page.js';
import { KIT_USER, MasterKit } from '../testing/master-socket-kit.js';
import { cliIO } from '../testing/cli-test-kit.js';
import { main } from '../cli/main.js';
import { tinyReport } from '../testing/tiny-dists.js';

const report = { kind: 'report' as const, reportJson: '{}', verdict: 'clean', score: 0, result: 'pass', findings: 0, artifacts: [] };

describe('upload-to-verdict latency', () => {
  let db: Db;
  afterEach(() => db?.close());

  it('counts from the index\'s upload time for a subscription\'s audit, and shows it everywhere', async () => {
    db = openDatabase(':memory:');
    const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
    const queue = new JobQueue(db, { leaseMs: 3_600_000, maxWaitMs: 0, maxAttempts: 3, defaultBackend: 'bwrap', clock, sweepIntervalMs: 0 });
    const store = new SubscriptionStore(db, queue, clock);
    const cursor = new FeedCursor(db, 'https://index.example', clock);
    cursor.startAt(100);
    const index = new MemoryIndex();
    const ingest = new ChangeIngest({ db, queue, cursor, resolve: index.resolve, select: (f) => selectFilesToAudit(f), clock });
    store.create(checkCreate({ name: 'all', kind: 'all' }));
    index.add('late', '1.0', ['late-1.0.tar.gz']);
    const uploaded = Date.parse('2026-03-01T11:58:00Z'); // two minutes before the master saw it
    index.releases.get('late==1.0')!.files[0]!.uploadTime = uploaded;
    await ingest.ingest([ev(101, 'late', '1.0', 'new-release')], 101);
    const [{ audit }] = store.audits('all') as [{ audit: { id: string } }];
    expect(queue.detail(audit.id)!.verdictLatency).toEqual({ from: 'upload', since: '2026-03-01T11:58:00.000Z', ms: null });

    queue.register('s1', { host: 'h', version: '0', capabilities: { backends: ['bwrap'] } } as never);
    const [job] = queue.leaseNow('s1', 1);
    clock.advance(3 * 60_000 + 30_000); // the audit takes 3.5 min: 5.5 min from the upload
    queue.complete('s1', job!.leaseId, report);
    const d = queue.detail(audit.id)!;
    expect(d.verdictLatency).toEqual({ from: 'upload', since: '2026-03-01T11:58:00.000Z', ms: 330_000 });
    expect(new QueueStats(db, clock).view().lastHour).toEqual({ finished: 1, latencyP50Ms: 330_000, latencyP95Ms: 330_000 });
    const hist = new MasterMetrics(db, queue, 3_600_000).collect().find((f) => f.name === 'pyti_upload_to_verdict_seconds');
    expect(hist).toMatchObject({ series: [{ count: 1, sum: 330 }] });
    const html = renderAuditPage(d, null);
    expect(html).toContain('<dt>upload to verdict</dt><dd><span id="verdict-latency">5 min 30 s</span> <span class="muted">(from the index\'s upload at 2026-03-01T11:58:00.000Z)</span></dd>');
  });

  it('counts from the submission for a submitted audit, through the API and the audit page', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
    const k = await MasterKit.start({ leaseMs: 3_600_000 }, { clock });
    try {
      await k.register('s1');
      const id = (await k.request('POST', '/api/v1/audits', { body: { project: 'quick', version: '1.0' } })).json().id as string;
      expect((await k.request('GET', `/api/v1/audits/${id}`)).json().verdictLatency).toEqual({ from: 'submission', since: '2026-03-01T12:00:00.000Z', ms: null });
      const [job] = await k.lease('s1');
      clock.advance(42_000);
      await k.rpc('s1', 'jobs.complete', { leaseId: job!.leaseId, outcome: { kind: 'report', report: tinyReport('quick', '1.0', 'clean'), artifacts: [] } });
      expect((await k.request('GET', `/api/v1/audits/${id}`)).json().verdictLatency).toEqual({ from: 'submission', since: '2026-03-01T12:00:00.000Z', ms: 42_000 });
      const page = (await k.request('GET', `/audits/${id}`)).body;
      expect(page).toContain('<span id="verdict-latency">42.0 s</span> <span class="muted">(from the submission; the index\'s upload time is not known)</span>');
      const io = cliIO();
      expect(await main(['status', id, '--master', k.url, '--token', KIT_USER], io)).toBe(0);
      expect(io.stdout).toContain('  latency    42.0 s upload to verdict (from the submission)\n');
    } finally {
      await k.close();
    }
  });
});
