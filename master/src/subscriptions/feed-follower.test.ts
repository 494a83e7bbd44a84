import { PytiError } from '@pyti/vm-agent';
import { openDatabase, type Db } from '../db/database.js';
import { selectFilesToAudit } from '../feeds/release-files.js';
import { diffRssItems, emptyRssState, type RssWatchState } from '../feeds/rss-watcher.js';
import type { FeedItem } from '../feeds/feed-types.js';
import { ManualClock } from '../queue/clock.js';
import { JobQueue } from '../queue/job-queue.js';
import { SubscriptionService } from './subscription-service.js';
import { ManualTimers, MemoryChangelog, MemoryIndex } from './subscription-test-kit.js';

describe('feed follower', () => {
  let db: Db;
  let queue: JobQueue;
  let log: string[];
  let timers: ManualTimers;
  let changelog: MemoryChangelog;
  let index: MemoryIndex;
  let rssItems: FeedItem[];
  let svc: SubscriptionService;

  function service(follow: boolean | 'auto' = 'auto'): SubscriptionService {
    const clock = new ManualClock();
    queue = new JobQueue(db, { leaseMs: 10_000, maxWaitMs: 0, maxAttempts: 3, defaultBackend: 'bwrap', clock, sweepIntervalMs: 0 });
    return new SubscriptionService({
      db, queue, clock, indexUrl: 'https://index.example', follow, pollMs: 60_000, rssPollMs: 15_000, timers, log: (l) => log.push(l),
      changelog, resolve: index.resolve, select: (f) => selectFilesToAudit(f),
      rss: { updates: { poll: async (state?: RssWatchState) => diffRssItems(rssItems, state ?? emptyRssState()) } },
    });
  }
  /** Fires the next timer and waits for the poll it started. */
  async function step(): Promise<number | null> {
    const d = timers.fireNext();
    await svc.follower.changelogLoop.inFlight;
    await svc.follower.rssLoop.inFlight;
    return d;
  }
  /** Fires timers until `done` holds (at most 50); returns the time it took. */
  async function stepUntil(done: () => boolean): Promise<number> {
    const t0 = timers.now;
    for (let i = 0; i < 50 && !done(); i++) expect(await step()).not.toBeNull();
    expect(done()).toBe(true);
    return timers.now - t0;
  }

  beforeEach(() => {
    db = openDatabase(':memory:');
    log = [];
    timers = new ManualTimers();
    changelog = new MemoryChangelog(5000);
    index = new MemoryIndex();
    rssItems = [];
  });
  afterEach(async () => {
    await svc?.close();
    db.close();
  });

  it('with --follow auto, polls only once an index subscription exists; the first poll starts at the index\'s last serial', async () => {
    svc = service();
    svc.start();
    expect(svc.feedStatus()).toMatchObject({ following: false, cursor: null });
    changelog.add('old', '1', 'new-release'); // before the master followed: never audited
    svc.create({ name: 'all', kind: 'all' });
    expect(svc.follower.following).toBe(true);
    await step();
    expect(svc.feedStatus()).toMatchObject({ following: true, cursor: 5001, indexSerial: 5001, lag: 0, lastError: null });
    expect(log).toContain('change log: starting at serial 5001 (uploads from now on)');
    index.add('new', '1', ['new-1.tar.gz']);
    changelog.add('new', '1', 'new-release');
    expect(await stepUntil(() => svc.audits('all').length > 0)).toBe(60_000); // RSS (empty) is polled meanwhile
    expect(svc.audits('all').map((a) => a.filename)).toEqual(['new-1.tar.gz']);
    expect(svc.feedStatus()).toMatchObject({ cursor: 5002, lag: 0 });
  });

  it('a failed poll is visible in the feed status, leaves the cursor and backs off; the next good poll recovers everything', async () => {
    svc = service(true);
    svc.store.create({ name: 'all', kind: 'all', spec: {}, priority: 0, backend: null, backlogLimit: null, backlogPolicy: 'drop-oldest' });
    svc.start();
    await step();
    index.add('a', '1', ['a-1.tar.gz']);
    changelog.add('a', '1', 'new-release');
    changelog.failures.push(new PytiError('PYTI_FEED_MALFORMED', 'change log: entry 3 is not [name, version, timestamp, action, serial]'));
    changelog.failures.push(new PytiError('PYTI_FEED_RATE_LIMITED', 'HTTP 429'));
    svc.follower.rssLoop.stop();
    expect(await step()).toBe(60_000);
    expect(svc.feedStatus()).toMatchObject({ cursor: 5000, lastError: { code: 'PYTI_FEED_MALFORMED' } });
    expect(await step()).toBe(60_000); // first backoff: one period
    expect(svc.feedStatus().lastError?.code).toBe('PYTI_FEED_RATE_LIMITED');
    expect(await step()).toBe(120_000); // doubled
    expect(svc.feedStatus()).toMatchObject({ cursor: 5001, lastError: null });
    expect(svc.audits('all').map((a) => a.filename)).toEqual(['a-1.tar.gz']);
    expect(log.some((l) => /PYTI_FEED_RATE_LIMITED: HTTP 429; next poll in 120 s/.test(l))).toBe(true);
  });

  it('news in the RSS feed triggers a change-log poll at once, and a gap is logged and recovered from the change log', async () => {
    svc = service(true);
    svc.store.create({ name: 'all', kind: 'all', spec: {}, priority: 0, backend: null, backlogLimit: null, backlogPolicy: 'drop-oldest' });
    svc.start();
    await step(); // change log: start
    const item = (name: string, version: string, t: number): FeedItem => ({ name, normalized: name, version, publishedMs: t, link: '' });
    rssItems = [item('z', '1', 1000)];
    await step(); // RSS: first poll, nothing is news
    expect(timers.delays()).toEqual([15_000, 60_000]);
    index.add('b', '1', ['b-1.tar.gz']);
    changelog.add('b', '1', 'new-release');
    rssItems = [item('b', '1', 2000), item('z', '1', 1000)];
    await step(); // RSS: news → a change-log poll now
    expect(timers.delays()[0]).toBe(0);
    await step();
    expect(svc.audits('all').map((a) => a.filename)).toEqual(['b-1.tar.gz']);
    rssItems = [item('d', '1', 5000), item('c', '1', 4000)]; // b and z fell off: a gap
    index.add('c', '1', ['c-1.tar.gz']);
    index.add('d', '1', ['d-1.tar.gz']);
    changelog.add('c', '1', 'new-release');
    changelog.add('d', '1', 'new-release');
    await stepUntil(() => svc.audits('all').length === 3);
    expect(log.some((l) => l.startsWith('RSS updates: a gap'))).toBe(true);
    expect(svc.feedStatus().rss).toMatchObject({ gaps: 1, lastError: null });
  });

  it('stop waits for the poll in flight and no poll starts after it', async () => {
    svc = service(true);
    svc.start();
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const orig = changelog.lastSerial;
    changelog.lastSerial = async () => { await held; return orig(); };
    timers.fireNext();
    let stopped = false;
    const stopping = svc.close().then(() => { stopped = true; });
    await new Promise((r) => setTimeout(r, 10));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(timers.pending.size).toBe(0);
    expect(svc.feedStatus().following).toBe(false);
  });
});
