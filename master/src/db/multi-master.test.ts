/**
 * Several masters on one PostgreSQL database, each with its own connection (as separate `pyti master`
 * processes have): leases never overlap and never wait on one another, completion is idempotent
 * across masters, and a feed lock held by one master passes to another when its connection ends.
 */
import type { RegisterParams } from '@pyti/common';
import { pgAvailable } from '../testing/pg-kit.js';
import { testStores } from '../testing/store-kit.js';
import { JobQueue } from '../queue/job-queue.js';
import { openDatabase, type Db } from './database.js';
import { FeedLock } from './feed-lock.js';

const stores = testStores();
const reg: RegisterParams = { protocolVersion: 1, version: '0.1.0', host: 'h', capabilities: { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 2 } };
const opts = { leaseMs: 60_000, maxWaitMs: 2000, maxAttempts: 2, defaultBackend: 'bwrap', sweepIntervalMs: 0 };

(pgAvailable() || process.env.CI === 'true' ? describe : describe.skip)('several masters on one PostgreSQL database', () => {
  let a: Db;
  let b: Db;
  let url: string;
  beforeEach(async () => {
    url = await stores.location('postgres');
    a = openDatabase(url);
    b = openDatabase(url);
  });
  afterEach(() => {
    a.close();
    b.close();
  });

  it('leases each job to one slave only; a lease skips the jobs another master is leasing instead of waiting', () => {
    const qa = new JobQueue(a, opts);
    const qb = new JobQueue(b, opts);
    qa.register('s1', reg);
    qb.register('s2', reg);
    const ids = Array.from({ length: 6 }, (_, i) => (i % 2 ? qa : qb).submit({ source: { kind: 'index', project: `p${i}`, version: '1.0' } }).id);
    // Master A's lease transaction is still open (its rows locked) while master B leases: B skips them.
    let fromB: string[] = [];
    const fromA = a.transaction(() => {
      const got = qa.leaseNow('s1', 2).map((j) => j.jobId);
      fromB = qb.leaseNow('s2', 10).map((j) => j.jobId);
      return got;
    })();
    expect(fromA).toHaveLength(2);
    expect(fromB).toHaveLength(4);
    expect(new Set([...fromA, ...fromB])).toEqual(new Set(ids));
    expect(qa.leaseNow('s1', 10)).toEqual([]);
    expect(qb.counts()).toMatchObject({ queued: 0, running: 6 });
    qa.close();
    qb.close();
  });

  it('wakes a long-poll on one master at once when a job is queued on another (LISTEN/NOTIFY)', async () => {
    const qa = new JobQueue(a, opts);
    const qb = new JobQueue(b, { ...opts, maxWaitMs: 4000 });
    qb.register('s2', reg);
    const started = Date.now();
    const waiting = qb.lease('s2', 1, 4000);
    await new Promise((r) => setTimeout(r, 300));
    const job = qa.submit({ source: { kind: 'index', project: 'woken', version: '1.0' } });
    const got = await waiting;
    expect(got.map((j) => j.jobId)).toEqual([job.id]);
    expect(Date.now() - started).toBeLessThan(2000); // not the 4 s wait, not the 5 s safety poll
    qa.close();
    qb.close();
  });

  it('stores a completion once when it reaches two masters', () => {
    const qa = new JobQueue(a, opts);
    const qb = new JobQueue(b, opts);
    qa.register('s1', reg);
    const job = qa.submit({ source: { kind: 'index', project: 'p', version: '1.0' } });
    const [l] = qb.leaseNow('s1', 1);
    const report = { kind: 'report' as const, reportJson: '{"verdict":"clean"}', verdict: 'clean', score: 0, result: 'pass', findings: 0, artifacts: [] };
    expect(qa.complete('s1', l!.leaseId, report)).toEqual({ stored: true });
    expect(qb.complete('s1', l!.leaseId, report)).toEqual({ stored: false });
    expect(qb.summary(job.id)).toMatchObject({ state: 'done', verdict: 'clean' });
    expect(a.prepare('SELECT COUNT(*) AS n FROM reports').get()).toEqual({ n: 1 });
    qa.close();
    qb.close();
  });

  it('gives a feed to one master at a time, and to another when the holder is gone', () => {
    const logA: string[] = [];
    const logB: string[] = [];
    const fa = new FeedLock(a, 'change log of http://index.invalid', (l) => logA.push(l));
    const fb = new FeedLock(b, 'change log of http://index.invalid', (l) => logB.push(l));
    const other = new FeedLock(b, 'git subscriptions');
    expect(fa.hold()).toBe(true);
    expect(fb.hold()).toBe(false);
    expect(fa.hold()).toBe(true);
    expect(other.hold()).toBe(true);
    expect(fb.hold()).toBe(false);
    a.close(); // the holder's connection ends (as when its process dies)
    expect(fb.hold()).toBe(true);
    expect(logB).toEqual(['change log of http://index.invalid: another master follows it; this one stands by', 'change log of http://index.invalid: this master follows it (taken over)']);
    a = openDatabase(url);
    expect(new FeedLock(a, 'change log of http://index.invalid').hold()).toBe(false);
  });
});
