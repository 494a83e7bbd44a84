/**
 * One poll of one git subscription: fetch its branch into the mirror, plan the commits to audit
 * (commit-plan.ts), prepare each — its project name from its pyproject.toml and its archive (`git
 * archive --format=tar.gz --prefix=source/`) into the blob store — and then, in ONE transaction,
 * submit their audits (source `git`), link them to the subscription, apply the backlog policy and
 * move the cursor. Git work and blobs come first and change nothing in the database, so a master
 * killed at any point either did all of a poll or none of it: a restart neither replays nor misses a
 * commit (and the link's uniqueness per subscription and commit guards against doing one twice).
 *
 * A paused subscription submits nothing: its new commits are counted as skipped and the cursor moves
 * on (resuming follows new commits; it does not catch up). A commit whose archive is above the limit
 * is skipped with a note. A failure (unreachable repository, missing branch, git error) leaves the
 * cursor where it was; the caller records it and the next poll tries again.
 *
 * Security: nothing of the repository runs on the master — see git-command.ts.
 */
import { GIT_ARCHIVE_PREFIX } from '@pyti/common';
import { BlobTooLargeError, discardTemp, type BlobStore, type TempBlob } from '../blobs/blob-store.js';
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';
import type { JobQueue } from '../queue/job-queue.js';
import { normalizeProjectName } from '../subscriptions/name-glob.js';
import { BacklogPolicy } from '../subscriptions/backlog-policy.js';
import { ReleaseLedger } from '../subscriptions/release-ledger.js';
import type { SubscriptionRow } from '../subscriptions/subscription-store.js';
import { planCommits, type CommitPlan } from './commit-plan.js';
import type { GitCursors } from './git-cursors.js';
import { gitFailure, gitTooLarge, isTooLarge } from './git-errors.js';
import { gitSpecOf } from './git-kind.js';
import type { GitMirror } from './git-mirror.js';
import { repoBaseName } from './git-repo.js';
import { projectNameFromPyproject } from './project-name.js';

/** What a CommitIngest works on. */
export interface CommitIngestOptions {
  db: Db;
  queue: JobQueue;
  blobs: BlobStore;
  clock: Clock;
  cursors: GitCursors;
  /** Largest archive of a commit (above it the commit is skipped). */
  maxArchiveBytes: number;
  /** Most commits audited per poll. */
  maxCommitsPerPoll: number;
}

/** What one poll of one subscription did. */
export interface CommitPollResult {
  head: string;
  plan: CommitPlan;
  submitted: number;
  /** Commits not audited: the subscription is paused, or their archive is too large. */
  skipped: number;
  /** Queued audits cancelled by `drop-oldest`. */
  dropped: number;
  /** The backlog limit paused the subscription. */
  paused: boolean;
  /** The subscription was removed while the poll ran (nothing was recorded). */
  gone: boolean;
}

/** A commit ready for the transaction: its archive, or why it is not audited. */
interface Prepared {
  commit: string;
  project: string;
  archive: { sha256: string; sizeBytes: number } | null;
  skip?: 'paused' | 'too-large';
}

/** Polls one git subscription at a time (see the module comment). */
export class CommitIngest {
  private readonly ledger: ReleaseLedger;
  private readonly backlog: BacklogPolicy;
  private readonly st;

  constructor(private readonly opts: CommitIngestOptions) {
    this.ledger = new ReleaseLedger(opts.db);
    this.backlog = new BacklogPolicy(opts.db, this.ledger, opts.queue);
    this.st = {
      byId: opts.db.prepare('SELECT * FROM subscriptions WHERE id = ?'),
      bump: opts.db.prepare(`UPDATE subscriptions SET matched = matched + @matched, submitted = submitted + @submitted,
        dropped = dropped + @dropped, skipped = skipped + @skipped WHERE id = @id`),
    };
  }

  /** Polls `row` with its mirror (see the module comment). Throws GitError; the cursor then stays. */
  async poll(row: SubscriptionRow, mirror: GitMirror): Promise<CommitPollResult> {
    const { branch, repo } = gitSpecOf(JSON.parse(row.spec) as Record<string, unknown>);
    await mirror.ensure();
    const head = await mirror.fetch(branch);
    this.opts.cursors.polled(row.id, head);
    const cursor = this.opts.cursors.row(row.id).last_commit;
    const plan = await planCommits(mirror, cursor, head, this.opts.maxCommitsPerPoll);
    const prepared: Prepared[] = [];
    for (const commit of plan.commits) {
      const project = await this.projectOf(mirror, commit, repo);
      if (row.paused === 1) {
        prepared.push({ commit, project, archive: null, skip: 'paused' });
        continue;
      }
      try {
        prepared.push({ commit, project, archive: await this.archive(mirror, commit) });
      } catch (err) {
        if (!isTooLarge(err)) throw err;
        prepared.push({ commit, project, archive: null, skip: 'too-large' });
      }
    }
    const result = this.opts.db.transaction(() => this.apply(row.id, cursor, plan, prepared, repo, branch))();
    if (!result.gone && plan.next) await mirror.keep(plan.next);
    return { head, ...result };
  }

  /** `[project].name` of the commit's pyproject.toml, else the repository's base name. */
  private async projectOf(mirror: GitMirror, commit: string, repo: string): Promise<string> {
    const text = await mirror.fileAt(commit, 'pyproject.toml');
    return (text !== null ? projectNameFromPyproject(text) : null) ?? repoBaseName(repo);
  }

  /** The commit's archive, stored as a blob. */
  private async archive(mirror: GitMirror, commit: string): Promise<{ sha256: string; sizeBytes: number }> {
    const max = this.opts.maxArchiveBytes;
    const p = mirror.archive(commit, GIT_ARCHIVE_PREFIX);
    let temp: TempBlob;
    try {
      temp = await this.opts.blobs.writeTemp(p.stdout, max);
    } catch (err) {
      p.kill();
      await p.done;
      if (err instanceof BlobTooLargeError) throw gitTooLarge(`the archive of commit ${commit.slice(0, 12)}`, max);
      throw err;
    }
    const r = await p.done;
    if (r.code !== 0) {
      discardTemp(temp.path);
      throw gitFailure(`git archive of commit ${commit.slice(0, 12)}`, r, mirror.fetchTimeoutMs);
    }
    const put = this.opts.blobs.adopt(temp);
    return { sha256: put.sha256, sizeBytes: put.sizeBytes };
  }

  /** The transaction: audits, links, backlog, counts and the cursor, all or nothing. */
  private apply(id: number, from: string | null, plan: CommitPlan, prepared: Prepared[], repo: string, branch: string): Omit<CommitPollResult, 'head'> {
    const none = { plan, submitted: 0, skipped: 0, dropped: 0, paused: false };
    const row = this.st.byId.get(id) as SubscriptionRow | undefined;
    // Removed meanwhile, or another poll moved the cursor: record nothing.
    if (!row || this.opts.cursors.row(id).last_commit !== from) return { ...none, gone: true };
    const now = this.opts.clock.now();
    const c = { matched: 0, submitted: 0, dropped: 0, skipped: 0 };
    let queued = this.ledger.queuedCount(id);
    let paused = false;
    const notes: string[] = plan.note ? [plan.note] : [];
    for (const p of prepared) {
      const filename = `${p.project}-${p.commit}.tar.gz`;
      const normalized = normalizeProjectName(p.project);
      if (row.paused === 1 || p.skip === 'paused' || !p.archive) {
        if (p.skip === 'too-large') {
          c.matched++;
          notes.push(`commit ${p.commit.slice(0, 12)} skipped: its archive is larger than ${this.opts.maxArchiveBytes} bytes`);
        } else c.skipped++;
        continue;
      }
      c.matched++;
      if (this.ledger.hasLink(id, normalized, p.commit, filename)) {
        notes.push(`commit ${p.commit.slice(0, 12)} was audited before; not again`);
        continue;
      }
      if (this.backlog.pauseIfFull(row, queued, now)) {
        paused = true;
        c.matched--;
        c.skipped++;
        continue;
      }
      const job = this.opts.queue.submit({
        source: { kind: 'git', project: p.project, repo, branch, commit: p.commit, archive: p.archive },
        priority: row.priority,
        ...(row.backend ? { backend: row.backend } : {}),
      });
      this.ledger.link(job.id, id, normalized, p.commit, filename, 0, now);
      c.submitted++;
      queued++;
    }
    c.dropped += this.backlog.dropOldest(row, queued);
    this.st.bump.run({ id, ...c });
    if (plan.next) this.opts.cursors.advance(id, plan.next, c.submitted, plan.forcePush);
    if (notes.length) this.opts.cursors.note(id, notes.join('; '));
    this.opts.cursors.succeeded(id);
    return { plan, submitted: c.submitted, skipped: c.skipped, dropped: c.dropped, paused, gone: false };
  }
}
