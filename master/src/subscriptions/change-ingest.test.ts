import { type Db } from '../db/database.js';
import { testStores } from '../testing/store-kit.js';
import { ManualClock } from '../queue/clock.js';
import { JobQueue } from '../queue/job-queue.js';
import { ChangeIngest, type ResolveRelease } from './change-ingest.js';
import { FeedCursor } from './feed-cursor.js';
import { checkCreate } from './subscription-request.js';
import { SubscriptionStore } from './subscription-store.js';
import { selectFilesToAudit } from '../feeds/release-files.js';
import { MemoryIndex, changeEvent as ev } from './subscription-test-kit.js';

const sdistAndPureWheels = (files: Parameters<typeof selectFilesToAudit>[0]) => selectFilesToAudit(files);

const URL_ = 'https://index.example';

const stores = testStores();

describe.each(stores.kinds)('change-log ingest on %s', (kind) => {
  let db: Db;
  let clock: ManualClock;
  let queue: JobQueue;
  let store: SubscriptionStore;
  let cursor: FeedCursor;
  let index: MemoryIndex;
  let ingest: ChangeIngest;

  beforeEach(async () => {
    db = await stores.open(kind);
    clock = new ManualClock();
    queue = new JobQueue(db, { leaseMs: 10_000, maxWaitMs: 0, maxAttempts: 3, defaultBackend: 'bwrap', clock, sweepIntervalMs: 0 });
    store = new SubscriptionStore(db, queue, clock);
    cursor = new FeedCursor(db, URL_, clock);
    cursor.startAt(100);
    index = new MemoryIndex();
    ingest = new ChangeIngest({ db, queue, cursor, resolve: index.resolve, select: sdistAndPureWheels, clock });
  });
  afterEach(() => db.close());

  const sub = (body: Record<string, unknown>) => store.create(checkCreate(body));
  const audits = (name: string) => store.audits(name, 1000).map((a) => `${a.audit.project}/${a.filename}:${a.audit.state}:${a.releaseState}`).sort();

  it('submits the chosen files of matching releases with the subscription priority and backend, and moves the cursor', async () => {
    sub({ name: 'reqs', kind: 'projects', projects: ['Requests', 'FLASK'], priority: 7, backend: 'qemu' });
    index.add('requests', '2.0', ['requests-2.0.tar.gz', 'requests-2.0-py3-none-any.whl', 'requests-2.0-cp311-cp311-linux_x86_64.whl']);
    index.add('numpy', '2.0', ['numpy-2.0.tar.gz']);
    const r = await ingest.ingest([
      ev(101, 'requests', '2.0', 'new-release'), ev(102, 'requests', '2.0', 'add-file', 'requests-2.0.tar.gz'),
      ev(103, 'numpy', '2.0', 'new-release'), ev(104, 'numpy', '2.0', 'add-file', 'numpy-2.0.tar.gz'),
    ], 104);
    expect(r).toMatchObject({ events: 4, submitted: 2, cursor: 104, ignored: 2 });
    expect(audits('reqs')).toEqual(['requests/requests-2.0-py3-none-any.whl:queued:active', 'requests/requests-2.0.tar.gz:queued:active']);
    const a = store.audits('reqs')[0]!.audit;
    expect([a.priority, a.backend, a.source, a.version]).toEqual([7, 'qemu', 'index', '2.0']);
    expect(index.calls).toEqual([['requests', '2.0', 102]]); // numpy is followed by nobody: never read
    expect(store.get('reqs').counts).toMatchObject({ matched: 1, submitted: 2, queued: 2 });
    expect(cursor.serial()).toBe(104);
  });

  it('replaying the same page, or a page overlapping it, submits nothing twice', async () => {
    sub({ name: 'all', kind: 'all' });
    index.add('a', '1', ['a-1.tar.gz']);
    index.add('b', '1', ['b-1.tar.gz']);
    const page = [ev(101, 'a', '1', 'new-release'), ev(102, 'a', '1', 'add-file', 'a-1.tar.gz')];
    await ingest.ingest(page, 102);
    const again = await ingest.ingest(page, 102);
    expect(again).toMatchObject({ events: 0, submitted: 0, cursor: 102 });
    await ingest.ingest([...page, ev(103, 'b', '1', 'new-release')], 103);
    expect(audits('all')).toEqual(['a/a-1.tar.gz:queued:active', 'b/b-1.tar.gz:queued:active']);
    expect(queue.counts().queued).toBe(2);
  });

  it('a file added later is audited once; the idempotency key holds even past the cursor check', async () => {
    sub({ name: 'all', kind: 'all' });
    index.add('a', '1', ['a-1.tar.gz']);
    await ingest.ingest([ev(101, 'a', '1', 'new-release')], 101);
    index.add('a', '1', ['a-1.tar.gz', 'a-1-py3-none-any.whl']);
    await ingest.ingest([ev(102, 'a', '1', 'add-file', 'a-1-py3-none-any.whl'), ev(103, 'a', '1', 'add-file', 'a-1.tar.gz')], 103);
    expect(audits('all')).toEqual(['a/a-1-py3-none-any.whl:queued:active', 'a/a-1.tar.gz:queued:active']);
  });

  it('a failing read of the index changes nothing: no jobs, cursor where it was', async () => {
    sub({ name: 'all', kind: 'all' });
    index.add('a', '1', ['a-1.tar.gz']);
    const failing = new ChangeIngest({ db, queue, cursor, select: sdistAndPureWheels, clock, resolve: async (n, v, s) => {
      if (n === 'b') throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return index.resolve(n, v, s);
    } });
    await expect(failing.ingest([ev(101, 'a', '1', 'new-release'), ev(102, 'b', '1', 'new-release')], 102)).rejects.toThrow('ECONNREFUSED');
    expect(cursor.serial()).toBe(100);
    expect(queue.counts().queued).toBe(0);
  });

  it('a release gone before its files were read is recorded as removed, not an error', async () => {
    sub({ name: 'all', kind: 'all' });
    const r = await ingest.ingest([ev(101, 'ghost', '1', 'new-release'), ev(102, 'ghost', '1', 'remove-release')], 102);
    expect(r).toMatchObject({ gone: 1, submitted: 0, cursor: 102 });
    expect(db.prepare('SELECT state FROM feed_releases WHERE normalized = ?').get('ghost')).toEqual({ state: 'removed' });
  });

  it('a release the page removes (or whose project it removes) after its last upload is read without retrying its 404', async () => {
    sub({ name: 'all', kind: 'all' });
    const hinted: string[] = [];
    const resolve: ResolveRelease = (name, version, minSerial, hints) => {
      hinted.push(`${name} ${version}: ${hints?.removedInPage === true}`);
      return index.resolve(name, version, minSerial);
    };
    index.add('back', '1', ['back-1.tar.gz']);
    const hintedIngest = new ChangeIngest({ db, queue, cursor, resolve, select: sdistAndPureWheels, clock });
    const r = await hintedIngest.ingest([
      ev(101, 'gone', '1', 'new-release'), ev(102, 'gone', '1', 'add-file', 'gone-1.tar.gz'), ev(103, 'gone', '1', 'remove-release'),
      ev(104, 'dropped', '1', 'new-release'), ev(105, 'dropped', null, 'remove-project'),
      ev(106, 'back', '1', 'new-release'), ev(107, 'back', '1', 'remove-release'), ev(108, 'back', '1', 'add-file', 'back-1.tar.gz'),
      ev(109, 'kept', '1', 'new-release'),
    ], 109);
    expect(hinted.sort()).toEqual(['back 1: false', 'dropped 1: true', 'gone 1: true', 'kept 1: false']);
    expect(r).toMatchObject({ gone: 3, submitted: 1, cursor: 109 });
  });

  it('yank, remove-file, remove-release and remove-project mark audits and cancel the queued ones; unyank marks them active', async () => {
    sub({ name: 'all', kind: 'all' });
    for (const [n, v] of [['y', '1'], ['f', '1'], ['r', '1'], ['p', '1'], ['p', '2']] as const) index.add(n, v, [`${n}-${v}.tar.gz`, `${n}-${v}-py3-none-any.whl`]);
    await ingest.ingest(['y', 'f', 'r', 'p'].map((n, i) => ev(101 + i, n, '1', 'new-release')).concat(ev(105, 'p', '2', 'new-release')), 105);
    expect(queue.counts().queued).toBe(10);
    // One audit of r is running: it is marked, not cancelled.
    const running = store.audits('all', 100).find((a) => a.filename === 'r-1.tar.gz')!.audit.id;
    queue.register('s', { host: 'h', version: '1', capabilities: { backends: ['bwrap'] } } as never);
    const leased = queue.leaseNow('s', 100).map((l) => l.jobId);
    for (const id of leased) if (id !== running) queue.complete('s', db.prepare('SELECT current_lease FROM jobs WHERE id = ?').pluck().get(id) as string, { kind: 'error', retry: true, code: 'PYTI_SLAVE_FAILED', message: 'back' } as never);
    expect(queue.summary(running)!.state).toBe('running');
    const r = await ingest.ingest([
      ev(106, 'y', '1', 'yank-release'), ev(107, 'f', '1', 'remove-file', 'f-1.tar.gz'), ev(108, 'r', '1', 'remove-release'),
      ev(109, 'p', null, 'remove-project'), ev(110, 'x', '1', 'other'),
    ], 110);
    expect(r).toMatchObject({ cancelled: 8, ignored: 1, cursor: 110 });
    expect(audits('all')).toEqual([
      'f/f-1-py3-none-any.whl:queued:active', 'f/f-1.tar.gz:cancelled:removed',
      'p/p-1-py3-none-any.whl:cancelled:removed', 'p/p-1.tar.gz:cancelled:removed', 'p/p-2-py3-none-any.whl:cancelled:removed', 'p/p-2.tar.gz:cancelled:removed',
      'r/r-1-py3-none-any.whl:cancelled:removed', 'r/r-1.tar.gz:running:removed',
      'y/y-1-py3-none-any.whl:cancelled:yanked', 'y/y-1.tar.gz:cancelled:yanked',
    ]);
    expect(store.get('all').counts).toMatchObject({ cancelled: 8, queued: 1 });
    await ingest.ingest([ev(111, 'y', '1', 'unyank-release')], 111);
    expect(audits('all').filter((a) => a.startsWith('y/'))).toEqual(['y/y-1-py3-none-any.whl:cancelled:active', 'y/y-1.tar.gz:cancelled:active']);
    expect(db.prepare(`SELECT state FROM feed_files WHERE normalized = 'y'`).pluck().all()).toEqual(['active', 'active']);
  });

  it('paused subscriptions submit nothing and count what they skip; resumed ones follow new uploads', async () => {
    sub({ name: 'p', kind: 'pattern', pattern: 'Django_*' });
    store.update('p', { paused: true });
    index.add('django-rest', '1', ['django_rest-1.tar.gz']);
    index.add('django-cms', '1', ['django_cms-1.tar.gz']);
    index.add('djangox', '1', ['djangox-1.tar.gz']);
    await ingest.ingest([ev(101, 'django.rest', '1', 'new-release')], 101);
    expect(store.get('p')).toMatchObject({ paused: true, pausedReason: 'paused by a user', counts: { skipped: 1, submitted: 0 } });
    expect(index.calls).toEqual([]);
    store.update('p', { paused: false });
    await ingest.ingest([ev(102, 'Django_CMS', '1', 'new-release'), ev(103, 'djangox', '1', 'new-release')], 103);
    expect(audits('p')).toEqual(['Django_CMS/django_cms-1.tar.gz:queued:active'.replace('Django_CMS', 'django-cms')]);
  });

  it('new-projects follow the first release of projects created in the change log only', async () => {
    sub({ name: 'new', kind: 'new-projects' });
    index.add('fresh', '0.1', ['fresh-0.1.tar.gz']);
    index.add('fresh', '0.2', ['fresh-0.2.tar.gz']);
    index.add('old', '5', ['old-5.tar.gz']);
    index.add('later', '1', ['later-1.tar.gz']);
    await ingest.ingest([ev(101, 'fresh', null, 'create-project'), ev(102, 'fresh', '0.1', 'new-release'), ev(103, 'old', '5', 'new-release'),
      ev(104, 'later', null, 'create-project')], 104);
    await ingest.ingest([ev(105, 'fresh', '0.2', 'new-release'), ev(106, 'later', '1', 'new-release'), ev(107, 'fresh', '0.1', 'add-file', 'fresh-0.1.tar.gz')], 107);
    expect(audits('new')).toEqual(['fresh/fresh-0.1.tar.gz:queued:active', 'later/later-1.tar.gz:queued:active']);
    expect(store.get('new').counts.matched).toBe(2);
  });

  it('backlog drop-oldest cancels the oldest queued audits past the limit, with the reason', async () => {
    sub({ name: 'd', kind: 'all', backlog: 2, onBacklog: 'drop-oldest' });
    for (const n of ['a', 'b', 'c', 'd']) index.add(n, '1', [`${n}-1.tar.gz`]);
    const r = await ingest.ingest(['a', 'b', 'c', 'd'].map((n, i) => ev(101 + i, n, '1', 'new-release')), 104);
    expect(r.dropped).toBe(2);
    const list = store.audits('d');
    expect(list.map((a) => `${a.filename}:${a.audit.state}`).sort()).toEqual(['a-1.tar.gz:cancelled', 'b-1.tar.gz:cancelled', 'c-1.tar.gz:queued', 'd-1.tar.gz:queued']);
    expect(list.find((a) => a.filename === 'a-1.tar.gz')!.droppedReason).toMatch(/backlog limit/);
    expect(store.get('d').counts).toMatchObject({ submitted: 4, dropped: 2, queued: 2 });
  });

  it('backlog pause stops the subscription at the limit, with the reason; other subscriptions go on', async () => {
    sub({ name: 'p', kind: 'all', backlog: 2, onBacklog: 'pause' });
    sub({ name: 'other', kind: 'all' });
    for (const n of ['a', 'b', 'c', 'd']) index.add(n, '1', [`${n}-1.tar.gz`]);
    const r = await ingest.ingest(['a', 'b', 'c', 'd'].map((n, i) => ev(101 + i, n, '1', 'new-release')), 104);
    expect(r.paused).toEqual(['p']);
    expect(store.get('p')).toMatchObject({ paused: true, counts: { submitted: 2, queued: 2, skipped: 2 } });
    expect(store.get('p').pausedReason).toMatch(/backlog limit reached: 2 audits queued, limit 2/);
    expect(store.get('other').counts.submitted).toBe(4);
  });

  it('a subscription follows only the events after the cursor at its creation', async () => {
    index.add('a', '1', ['a-1.tar.gz']);
    index.add('b', '1', ['b-1.tar.gz']);
    cursor.advance(105, 0, 0);
    store.create(checkCreate({ name: 'late', kind: 'all' }), cursor.serial());
    db.prepare('UPDATE feed_cursors SET last_serial = 100').run(); // as if the master had been behind
    await ingest.ingest([ev(104, 'a', '1', 'new-release'), ev(106, 'b', '1', 'new-release')], 106);
    expect(audits('late')).toEqual(['b/b-1.tar.gz:queued:active']);
  });

  it('a yanked release stays yanked, and unaudited, when a file is added to it later', async () => {
    sub({ name: 'all', kind: 'all' });
    index.add('a', '1', ['a-1.tar.gz']);
    await ingest.ingest([ev(101, 'a', '1', 'new-release'), ev(102, 'a', '1', 'yank-release')], 102);
    index.add('a', '1', ['a-1.tar.gz', 'a-1-py3-none-any.whl']);
    await ingest.ingest([ev(103, 'a', '1', 'add-file', 'a-1-py3-none-any.whl')], 103);
    expect(db.prepare(`SELECT state FROM feed_releases WHERE normalized = 'a'`).pluck().get()).toBe('yanked');
    expect(audits('all')).toEqual(['a/a-1.tar.gz:cancelled:yanked']); // and the added file is not audited
  });

  it('removing a subscription cancels its queued audits', async () => {
    sub({ name: 'a', kind: 'all' });
    index.add('x', '1', ['x-1.tar.gz']);
    await ingest.ingest([ev(101, 'x', '1', 'new-release')], 101);
    const id = store.audits('a')[0]!.audit.id;
    expect(store.remove('a').cancelled).toBe(1);
    expect(queue.summary(id)!.state).toBe('cancelled');
    expect(() => store.get('a')).toThrow(expect.objectContaining({ code: 'PYTI_SUBSCRIPTION_NOT_FOUND' }));
  });
});
