/**
 * Subscriptions as one service of the master: the store (API and CLI), the change-log ingest and the
 * feed follower, over the master's database and queue, for one index URL; and, when given, the git
 * poller of `git` subscriptions (started and stopped with the service, triggered when one is added
 * or resumed, its cursor shown in their summaries).
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
import { FeedLock } from '../db/feed-lock.js';
import type { Clock } from '../queue/clock.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { FeedStatus, SubscriptionAudit, SubscriptionSummary } from '../user-api.js';
import { ChangeIngest, type ResolveRelease, type SelectFiles } from './change-ingest.js';
import { FeedCursor } from './feed-cursor.js';
import { FeedFollower, type ChangelogSource, type RssSource } from './feed-follower.js';
import { GIT_KIND } from '../git/git-kind.js';
import type { GitPoller } from '../git/git-poller.js';
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
  /** The git poller (git subscriptions): started, stopped and triggered with the service. */
  git?: GitPoller;
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
    const git = opts.git;
    this.store = new SubscriptionStore(db, queue, clock, (row) => (git && row.kind === GIT_KIND ? { git: git.cursors.status(row.id) } : {}));
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
      timers: opts.timers, log: opts.log, abort, lock: new FeedLock(db, `change log of ${indexUrl}`, opts.log),
    });
  }

  /** Whether any subscription follows the index. */
  hasIndexSubscriptions(): boolean {
    return this.store.kindsInUse().some((k) => subscriptionKind(k)?.followsIndex === true);
  }

  /** Starts following the index if configured to (see the module comment), and the git poller. */
  start(): void {
    if (this.opts.follow === true || (this.opts.follow === 'auto' && this.hasIndexSubscriptions())) this.follower.start();
    this.opts.git?.start();
  }

  /** Stops following and polling; resolves once no poll runs (before the database closes). */
  async close(): Promise<void> {
    await Promise.all([this.follower.stop(), this.opts.git?.stop()]);
  }

  /**
   * Creates a subscription from an API body (following the index from the cursor as it is now; a git
   * subscription is polled at once: its branch's head is audited and becomes its cursor).
   */
  create(body: unknown): SubscriptionSummary {
    const created = this.store.create(checkCreate(body), this.cursor.serial());
    if (this.opts.follow === 'auto' && subscriptionKind(created.kind)?.followsIndex) this.follower.start();
    if (created.kind === GIT_KIND) this.opts.git?.trigger();
    return created;
  }

  list(): SubscriptionSummary[] {
    return this.store.list();
  }

  get(name: string): SubscriptionSummary {
    return this.store.get(checkSubscriptionName(name));
  }

  update(name: string, body: unknown): SubscriptionSummary {
    const updated = this.store.update(checkSubscriptionName(name), checkUpdate(body));
    if (updated.kind === GIT_KIND && !updated.paused) this.opts.git?.trigger();
    return updated;
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
