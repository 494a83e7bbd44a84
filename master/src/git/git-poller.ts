/**
 * The master's git poller: every `--git-poll-ms` (and at once when a git subscription is added or
 * resumed) it polls each git subscription in turn (commit-ingest.ts), each with its bare mirror
 * `<mirrorsDir>/<subscription id>.git`. A failed poll (unreachable repository, missing branch, git
 * error, time limit) is recorded on that subscription (`PYTI_GIT_*`, shown by `pyti subscribe show`)
 * and retried on the next round; it never stops the poller or the master. When a subscription has
 * more new commits than one poll takes, the next round comes at once. Mirrors of subscriptions that no
 * longer exist are removed at the start of each round.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';
import type { JobQueue } from '../queue/job-queue.js';
import { PollLoop, type Timers } from '../subscriptions/poll-loop.js';
import { FeedLock } from '../db/feed-lock.js';
import type { SubscriptionRow } from '../subscriptions/subscription-store.js';
import { CommitIngest, type CommitPollResult } from './commit-ingest.js';
import { GitCursors } from './git-cursors.js';
import { asPytiError } from './git-errors.js';
import { GIT_KIND, gitSpecOf } from './git-kind.js';
import { GitMirror } from './git-mirror.js';
import { checkRepo } from './git-repo.js';

/** The poller's database, queue, blob store, mirrors directory, interval and limits. */
export interface GitPollerOptions {
  db: Db;
  queue: JobQueue;
  blobs: BlobStore;
  clock: Clock;
  /** Where the mirrors live (`<data>/git`). */
  mirrorsDir: string;
  /** Between rounds. */
  everyMs: number;
  /** Largest archive of a commit (above it the commit is skipped). */
  maxArchiveBytes: number;
  /** Most commits audited per subscription and poll (default 50). */
  maxCommitsPerPoll?: number;
  /** Time limits of git fetch/archive and of the other git commands. */
  fetchTimeoutMs?: number;
  gitTimeoutMs?: number;
  timers?: Timers;
  /** One line per notable thing (audits submitted, force-pushes, errors). */
  log?: (line: string) => void;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The loop over git subscriptions (see the module comment). */
export class GitPoller {
  readonly cursors: GitCursors;
  readonly loop: PollLoop;
  private readonly ingest: CommitIngest;
  private readonly abort = new AbortController();
  private readonly log: (line: string) => void;
  private readonly st;
  /** One master polls the git subscriptions at a time (several masters on PostgreSQL). */
  private readonly lock: FeedLock;

  constructor(private readonly opts: GitPollerOptions) {
    this.log = opts.log ?? (() => undefined);
    this.cursors = new GitCursors(opts.db, opts.clock);
    this.ingest = new CommitIngest({
      db: opts.db, queue: opts.queue, blobs: opts.blobs, clock: opts.clock, cursors: this.cursors,
      maxArchiveBytes: opts.maxArchiveBytes, maxCommitsPerPoll: opts.maxCommitsPerPoll ?? 50,
    });
    this.loop = new PollLoop(() => this.pollAll(), {
      everyMs: opts.everyMs, timers: opts.timers,
      onError: (err, ms) => this.log(`git: ${messageOf(err)}; next round in ${Math.round(ms / 1000)} s`),
    });
    this.st = { subs: opts.db.prepare('SELECT * FROM subscriptions WHERE kind = ? ORDER BY id') };
    this.lock = new FeedLock(opts.db, 'git subscriptions', this.log);
  }

  /** Starts polling (a round at once). */
  start(): void {
    this.loop.start();
  }

  /** A round as soon as possible (a subscription was added or resumed). */
  trigger(): void {
    this.loop.trigger();
  }

  /** Stops, killing git commands in flight; resolves when no round runs. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('the master is closing'));
    await this.loop.stop();
  }

  /** The mirror of a subscription. */
  mirrorOf(row: SubscriptionRow): GitMirror {
    const { repo } = gitSpecOf(JSON.parse(row.spec) as Record<string, unknown>);
    return new GitMirror(join(this.opts.mirrorsDir, `${row.id}.git`), checkRepo(repo), {
      fetchTimeoutMs: this.opts.fetchTimeoutMs, timeoutMs: this.opts.gitTimeoutMs, signal: this.abort.signal,
    });
  }

  /** One round: every git subscription once (see the module comment). */
  async pollAll(): Promise<void> {
    if (!this.lock.hold()) return;
    const rows = this.st.subs.all(GIT_KIND) as SubscriptionRow[];
    this.sweepMirrors(new Set(rows.map((r) => `${r.id}.git`)));
    let more = false;
    for (const row of rows) {
      if (this.abort.signal.aborted) return;
      const r = await this.pollOne(row);
      more ||= r?.plan.more === true;
    }
    if (more) this.loop.trigger();
  }

  /** Polls one subscription, recording its success or error; null when it failed. */
  async pollOne(row: SubscriptionRow): Promise<CommitPollResult | null> {
    try {
      const r = await this.ingest.poll(row, this.mirrorOf(row));
      if (r.submitted || r.dropped || r.paused || r.plan.forcePush || r.skipped) {
        this.log(`git ${row.name}: head ${r.head.slice(0, 12)}: ${r.submitted} audits submitted, ${r.skipped} commits skipped, ${r.dropped} dropped`
          + `${r.paused ? ', paused by its backlog' : ''}${r.plan.note ? ` (${r.plan.note})` : ''}`);
      }
      return r;
    } catch (err) {
      if (this.abort.signal.aborted) return null;
      const e = asPytiError(err);
      this.cursors.polled(row.id, null);
      this.cursors.failed(row.id, e.code, e.message);
      this.log(`git ${row.name}: ${e.code}: ${e.message}; retried in the next round`);
      return null;
    }
  }

  /** Removes the mirrors of subscriptions that no longer exist. */
  private sweepMirrors(keep: Set<string>): void {
    let names: string[];
    try {
      names = readdirSync(this.opts.mirrorsDir);
    } catch {
      return;
    }
    for (const n of names) if (/^\d+\.git$/.test(n) && !keep.has(n)) rmSync(join(this.opts.mirrorsDir, n), { recursive: true, force: true });
  }
}
