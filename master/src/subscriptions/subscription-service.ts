/**
 * Subscriptions as one service of the master: the store (API and CLI), the change-log ingest and the
 * feed follower, over the master's database and queue, for one index URL.
 *
 * Following (`follow`): `true` polls the index from start-up; `false` never does (subscriptions can
 * still be managed; nothing is ingested); `'auto'` (the default) polls once at least one subscription
 * of a kind that follows the index exists — from start-up when there is one, or from the moment one is
 * added.
 */
import { ChangelogReader } from '../feeds/changelog.js';
import { resolveReleaseFiles, selectFilesToAudit } from '../feeds/release-files.js';
import { RssWatcher } from '../feeds/rss-watcher.js';
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { FeedStatus, SubscriptionAudit, SubscriptionSummary } from '../user-api.js';
import { ChangeIngest, type ResolveRelease, type SelectFiles } from './change-ingest.js';
import { FeedCursor } from './feed-cursor.js';
import { FeedFollower, type ChangelogSource, type RssSource } from './feed-follower.js';
import type { Timers } from './poll-loop.js';
import { subscriptionKind } from './subscription-kinds.js';
import { checkCreate, checkSubscriptionName, checkUpdate } from './subscription-request.js';
import { SubscriptionStore } from './subscription-store.js';

export interface SubscriptionServiceOptions {
  db: Db;
  queue: JobQueue;
  clock: Clock;
  /** The index followed, normalized (no trailing slash), e.g. `https://pypi.org`. */
  indexUrl: string;
  follow: boolean | 'auto';
  pollMs: number;
  /** 0: no RSS polling. */
  rssPollMs: number;
  log?: (line: string) => void;
  timers?: Timers;
  /** Replacements for the network readers (tests, benchmarks). */
  changelog?: ChangelogSource;
  rss?: Record<string, RssSource>;
  resolve?: ResolveRelease;
  select?: SelectFiles;
}

export class SubscriptionService {
  readonly store: SubscriptionStore;
  readonly cursor: FeedCursor;
  readonly ingest: ChangeIngest;
  readonly follower: FeedFollower;

  constructor(private readonly opts: SubscriptionServiceOptions) {
    const abort = new AbortController();
    const { db, queue, clock, indexUrl } = opts;
    this.store = new SubscriptionStore(db, queue, clock);
    this.cursor = new FeedCursor(db, indexUrl, clock);
    this.ingest = new ChangeIngest({
      db, queue, clock, cursor: this.cursor,
      resolve: opts.resolve ?? ((name, version, minSerial) => resolveReleaseFiles(indexUrl, name, version, { minSerial, signal: abort.signal })),
      select: opts.select ?? ((files) => selectFilesToAudit(files)),
    });
    const rss = opts.rss ?? (opts.rssPollMs > 0 ? {
      updates: new RssWatcher({ url: `${indexUrl}/rss/updates.xml`, kind: 'updates' }),
      packages: new RssWatcher({ url: `${indexUrl}/rss/packages.xml`, kind: 'packages' }),
    } : {});
    this.follower = new FeedFollower({
      changelog: opts.changelog ?? new ChangelogReader({ indexUrl, signal: abort.signal }),
      rss, ingest: this.ingest, cursor: this.cursor, pollMs: opts.pollMs, rssPollMs: opts.rssPollMs,
      timers: opts.timers, log: opts.log, abort,
    });
  }

  /** Whether any subscription follows the index. */
  hasIndexSubscriptions(): boolean {
    return this.store.kindsInUse().some((k) => subscriptionKind(k)?.followsIndex === true);
  }

  /** Starts following the index if configured to (see the module comment). */
  start(): void {
    if (this.opts.follow === true || (this.opts.follow === 'auto' && this.hasIndexSubscriptions())) this.follower.start();
  }

  /** Stops following; resolves once no poll runs (before the database closes). */
  async close(): Promise<void> {
    await this.follower.stop();
  }

  /** Creates a subscription from an API body (following the index from the cursor as it is now). */
  create(body: unknown): SubscriptionSummary {
    const created = this.store.create(checkCreate(body), this.cursor.serial());
    if (this.opts.follow === 'auto' && subscriptionKind(created.kind)?.followsIndex) this.follower.start();
    return created;
  }

  list(): SubscriptionSummary[] {
    return this.store.list();
  }

  get(name: string): SubscriptionSummary {
    return this.store.get(checkSubscriptionName(name));
  }

  update(name: string, body: unknown): SubscriptionSummary {
    return this.store.update(checkSubscriptionName(name), checkUpdate(body));
  }

  remove(name: string): { removed: SubscriptionSummary; cancelled: number } {
    return this.store.remove(checkSubscriptionName(name));
  }

  audits(name: string, limit?: number): SubscriptionAudit[] {
    return this.store.audits(checkSubscriptionName(name), limit);
  }

  /** The cursor, lag, last poll and last error. */
  feedStatus(): FeedStatus {
    return this.cursor.status(this.follower.following);
  }
}
