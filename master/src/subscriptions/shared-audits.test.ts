// One audit per file through the subscription path: a file several subscriptions match is audited
// once and the audit (and its report) belongs to each; a file a user already audited is linked, not
// audited again; removing or trimming one subscription leaves the audit to the others.
import { openDatabase, type Db } from '../db/database.js';
import { ManualClock } from '../queue/clock.js';
import { JobQueue } from '../queue/job-queue.js';
import { ChangeIngest } from './change-ingest.js';
import { FeedCursor } from './feed-cursor.js';
import { checkCreate } from './subscription-request.js';
import { SubscriptionStore } from './subscription-store.js';
import { selectFilesToAudit } from '../feeds/release-files.js';
import { MemoryIndex, changeEvent as ev } from './subscription-test-kit.js';

describe('subscriptions share one audit per file', () => {
  let db: Db;
  let clock: ManualClock;
  let queue: JobQueue;
  let store: SubscriptionStore;
  let index: MemoryIndex;
  let ingest: ChangeIngest;

  beforeEach(() => {
    db = openDatabase(':memory:');
    clock = new ManualClock();
    queue = new JobQueue(db, { leaseMs: 10_000, maxWaitMs: 0, maxAttempts: 3, defaultBackend: 'bwrap', clock, sweepIntervalMs: 0 });
    store = new SubscriptionStore(db, queue, clock);
    const cursor = new FeedCursor(db, 'https://index.example', clock);
    cursor.startAt(100);
    index = new MemoryIndex();
    ingest = new ChangeIngest({ db, queue, cursor, resolve: index.resolve, select: (f) => selectFilesToAudit(f), clock });
  });
  afterEach(() => db.close());

  const sub = (body: Record<string, unknown>) => store.create(checkCreate(body));
  const ids = (name: string) => store.audits(name, 100).map((a) => a.audit.id).sort();
  const report = (verdict: string) => ({ kind: 'report' as const, reportJson: '{}', verdict, score: 0, result: 'pass', findings: 0, artifacts: [] });

  it('audits a file matched by two subscriptions once; the report belongs to both', async () => {
    sub({ name: 'reqs', kind: 'projects', projects: ['requests'], priority: 2 });
    sub({ name: 'everything', kind: 'all', priority: 5 });
    index.add('requests', '2.0', ['requests-2.0.tar.gz', 'requests-2.0-py3-none-any.whl']);
    const r = await ingest.ingest([ev(101, 'requests', '2.0', 'new-release')], 101);
    expect(r).toMatchObject({ submitted: 2, shared: 2 });
    expect(queue.counts().queued).toBe(2);
    expect(ids('reqs')).toEqual(ids('everything'));
    expect(ids('reqs')).toHaveLength(2);
    // The shared audit runs at the higher of the two priorities.
    expect(store.audits('reqs').map((a) => a.audit.priority)).toEqual([5, 5]);
    expect(store.get('reqs').counts).toMatchObject({ submitted: 2, queued: 2 });
    expect(store.get('everything').counts).toMatchObject({ submitted: 2, queued: 2 });

    queue.register('s1', { host: 'h', version: '0', capabilities: { backends: ['bwrap'] } } as never);
    for (const job of queue.leaseNow('s1', 2)) queue.complete('s1', job.leaseId, report('clean'));
    for (const name of ['reqs', 'everything']) {
      expect(store.audits(name).map((a) => [a.filename, a.audit.state, a.audit.verdict]).sort()).toEqual([
        ['requests-2.0-py3-none-any.whl', 'done', 'clean'], ['requests-2.0.tar.gz', 'done', 'clean'],
      ]);
    }
    // A later page naming the file again (an add-file) submits nothing.
    const again = await ingest.ingest([ev(102, 'requests', '2.0', 'add-file', 'requests-2.0.tar.gz')], 102);
    expect(again).toMatchObject({ submitted: 0, shared: 0 });
    expect(queue.counts()).toMatchObject({ queued: 0, done: 2 });
  });

  it('a file a user already audited is linked to that audit; another backend is another audit', async () => {
    const mine = queue.submitOnce({ source: { kind: 'index', project: 'Flask', version: '3.0', filename: 'flask-3.0.tar.gz' } });
    expect(mine.reused).toBe(false);
    sub({ name: 'web', kind: 'projects', projects: ['flask'] });
    sub({ name: 'vm', kind: 'projects', projects: ['flask'], backend: 'qemu' });
    index.add('flask', '3.0', ['flask-3.0.tar.gz']);
    const r = await ingest.ingest([ev(101, 'flask', '3.0', 'new-release')], 101);
    expect(r).toMatchObject({ submitted: 1, shared: 1 });
    expect(ids('web')).toEqual([mine.audit.id]);
    expect(ids('vm')).not.toEqual([mine.audit.id]);
    expect(store.audits('vm')[0]!.audit.backend).toBe('qemu');
  });

  it('removing one subscription leaves the shared audit queued for the other; removing the last cancels it', async () => {
    sub({ name: 'one', kind: 'all' });
    sub({ name: 'two', kind: 'projects', projects: ['a'] });
    index.add('a', '1', ['a-1.tar.gz']);
    await ingest.ingest([ev(101, 'a', '1', 'new-release')], 101);
    const [id] = ids('one');
    expect(store.remove('one')).toMatchObject({ cancelled: 0 });
    expect(queue.summary(id!)!.state).toBe('queued');
    expect(ids('two')).toEqual([id]);
    expect(store.remove('two')).toMatchObject({ cancelled: 1 });
    expect(queue.summary(id!)!.state).toBe('cancelled');
  });

  it('drop-oldest on one subscription drops its link but does not cancel an audit another one still wants', async () => {
    sub({ name: 'small', kind: 'all', backlog: 1, onBacklog: 'drop-oldest' });
    sub({ name: 'wide', kind: 'projects', projects: ['a'] });
    index.add('a', '1', ['a-1.tar.gz']);
    index.add('b', '1', ['b-1.tar.gz']);
    const r = await ingest.ingest([ev(101, 'a', '1', 'new-release'), ev(102, 'b', '1', 'new-release')], 102);
    expect(r).toMatchObject({ dropped: 1 });
    const small = store.audits('small');
    expect(small.find((a) => a.filename === 'a-1.tar.gz')).toMatchObject({ droppedReason: expect.stringMatching(/backlog limit/), audit: { state: 'queued' } });
    expect(store.audits('wide')).toEqual([expect.objectContaining({ filename: 'a-1.tar.gz', droppedReason: null, audit: expect.objectContaining({ state: 'queued' }) })]);
    expect(store.get('small').counts).toMatchObject({ queued: 1 });
  });

  it('a yanked release cancels the shared audit once', async () => {
    sub({ name: 'one', kind: 'all' });
    sub({ name: 'two', kind: 'all' });
    index.add('a', '1', ['a-1.tar.gz']);
    await ingest.ingest([ev(101, 'a', '1', 'new-release')], 101);
    const r = await ingest.ingest([ev(102, 'a', '1', 'yank-release')], 102);
    expect(r.cancelled).toBe(1);
    expect(store.audits('one')[0]!.audit.state).toBe('cancelled');
    expect(store.get('two').counts).toMatchObject({ cancelled: 1 });
  });
});
