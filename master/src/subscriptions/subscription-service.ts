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
import { FetchPolicy } from '@pyti/common';
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
import { FeedQuarantine, type QuarantinedItem } from './feed-quarantine.js';
import { SimpleIndexReader } from '../feeds/simple-index.js';
import { ProjectStatusStore } from './project-status-store.js';
import { ProjectStatusChecker } from './project-status-checker.js';
import { SimpleFollowStore } from './simple-follow-store.js';
import { SimpleFollower, type SimpleSource } from './simple-follower.js';
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
  /** Where the feed readers' requests and redirects may go (default: the index's origin, and files.pythonhosted.org for pypi.org). */
  fetchPolicy?: FetchPolicy;
  follow: boolean | 'auto';
  pollMs: number;
  /** 0: no RSS polling. */
  rssPollMs: number;
  log?: (line: string) => void;
  timers?: Timers;
  /** The git poller (git subscriptions): started, stopped and triggered with the service. */
  git?: GitPoller;
  /** How the index is followed (default `changelog`; see MasterConfig.feed). */
  feed?: 'changelog' | 'simple' | 'both';
  /** Between `/simple/` passes (default 60 s). */
  simplePollMs?: number;
  /** Files uploaded before the simple follower's start minus this are never submitted (default 14 days). */
  backfillWindowMs?: number;
  /** Replacements for the network readers (tests, benchmarks). */
  simple?: SimpleSource;
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
  /** Change-log entries and releases set aside instead of stalling the follower. */
  readonly quarantine: FeedQuarantine;
  /** PEP 792 project status as read from the index's Simple API pages. */
  readonly statuses: ProjectStatusStore;
  /** The PEP 691 follower (feed `simple` or `both`), else null. */
  readonly simple: SimpleFollower | null;
  private readonly feed: 'changelog' | 'simple' | 'both';

  constructor(private readonly opts: SubscriptionServiceOptions) {
    const abort = new AbortController();
    const { db, queue, clock, indexUrl } = opts;
    const policy = opts.fetchPolicy ?? FetchPolicy.forIndex(indexUrl);
    const git = opts.git;
    this.store = new SubscriptionStore(db, queue, clock, (row) => (git && row.kind === GIT_KIND ? { git: git.cursors.status(row.id) } : {}));
    this.cursor = new FeedCursor(db, indexUrl, clock);
    this.quarantine = new FeedQuarantine(db, indexUrl, clock);
    // How both followers read a release's files and pick those to audit.
    const resolve: ResolveRelease = opts.resolve ?? ((name, version, minSerial, hints) => resolveReleaseFiles(indexUrl, name, version, {
      minSerial, signal: abort.signal, policy, ...(hints?.removedInPage ? { retryNotFound: false } : {}),
    }));
    const select: SelectFiles = opts.select ?? ((files) => selectFilesToAudit(files));
    this.ingest = new ChangeIngest({ db, queue, clock, cursor: this.cursor, quarantine: this.quarantine, resolve, select });
    this.feed = opts.feed ?? 'changelog';
    this.statuses = new ProjectStatusStore(db, clock);
    const simpleSource = opts.simple ?? new SimpleIndexReader({ indexUrl, signal: abort.signal });
    const statusChecker = new ProjectStatusChecker({ db, read: (name) => simpleSource.project(name), statuses: this.statuses, log: opts.log });
    this.simple = this.feed === 'changelog' ? null : new SimpleFollower({
      source: simpleSource,
      store: new SimpleFollowStore(db, indexUrl, clock),
      // Deduplicated by the ledger's links (one audit per subscription and file), not by a serial.
      ingest: new ChangeIngest({
        db, queue, clock, cursor: { serial: () => null, advance: () => undefined }, quarantine: this.quarantine, resolve, select,
      }),
      clock, quarantine: this.quarantine, statuses: this.statuses, everyMs: opts.simplePollMs ?? 60_000, backfillWindowMs: opts.backfillWindowMs,
      timers: opts.timers, log: opts.log, abort, lock: new FeedLock(db, `simple index of ${indexUrl}`, opts.log),
    });
    const rss = opts.rss ?? (opts.rssPollMs > 0 ? {
      updates: new RssWatcher({ url: `${indexUrl}/rss/updates.xml`, kind: 'updates', policy }),
      packages: new RssWatcher({ url: `${indexUrl}/rss/packages.xml`, kind: 'packages', policy }),
    } : {});
    this.follower = new FeedFollower({
      changelog: opts.changelog ?? new ChangelogReader({ indexUrl, signal: abort.signal, policy }),
      rss, ingest: this.ingest, cursor: this.cursor, pollMs: opts.pollMs, rssPollMs: opts.rssPollMs,
      timers: opts.timers, log: opts.log, abort, quarantine: this.quarantine, lock: new FeedLock(db, `change log of ${indexUrl}`, opts.log),
      afterPage: (events) => statusChecker.check(events),
    });
  }

  /** Whether any subscription follows the index. */
  hasIndexSubscriptions(): boolean {
    return this.store.kindsInUse().some((k) => subscriptionKind(k)?.followsIndex === true);
  }

  /** Starts following the index if configured to (see the module comment), and the git poller. */
  start(): void {
    if (this.opts.follow === true || (this.opts.follow === 'auto' && this.hasIndexSubscriptions())) this.followIndex();
    this.opts.git?.start();
  }

  /** Starts the followers the feed mode names. */
  private followIndex(): void {
    if (this.feed !== 'simple') this.follower.start();
    this.simple?.start();
  }

  /** Stops following and polling; resolves once no poll runs (before the database closes). */
  async close(): Promise<void> {
    await Promise.all([this.follower.stop(), this.simple?.stop(), this.opts.git?.stop()]);
  }

  /**
   * Creates a subscription from an API body (following the index from the cursor as it is now; a git
   * subscription is polled at once: its branch's head is audited and becomes its cursor).
   */
  create(body: unknown): SubscriptionSummary {
    const created = this.store.create(checkCreate(body), this.cursor.serial());
    if (this.opts.follow === 'auto' && subscriptionKind(created.kind)?.followsIndex) this.followIndex();
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
    const status: FeedStatus = { ...this.cursor.status(this.follower.following), mode: this.feed, quarantined: this.quarantine.count() };
    if (this.simple) status.simple = this.simple.status();
    return status;
  }

  /** What was set aside while following (newest first). */
  quarantined(limit?: number): { items: QuarantinedItem[] } {
    return { items: this.quarantine.list(limit) };
  }
}
