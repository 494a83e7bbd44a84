/**
 * Turns a page of the index's change log into audits, losing nothing and doing nothing twice.
 *
 * `ingest(events, nextSerial)`:
 * 1. Before any write, reads the files of every release that a subscription may want (the JSON API:
 *    network I/O, outside the transaction), at least as recent as the release's last event in the
 *    page (`minSerial`). A release that is gone (PYTI_INDEX_NOT_FOUND) is recorded as removed, not an
 *    error; any other failure throws and changes nothing. A release the page itself removes is read
 *    with `removedInPage` (its 404 is not retried: retries stalled the whole change log 7–15 s).
 * 2. In one transaction, in serial order: `create-project` notes a new project; `new-release` and
 *    `add-file` submit audits of the files `select` picks, for every matching subscription that is not
 *    paused and was created before the event (its `from_serial`) — one link per subscription and
 *    file, ever (the idempotency key is (subscription, normalized name, version, filename)), and one
 *    audit per file and backend: a file that another subscription (or a user) already has queued,
 *    running or audited is linked to that audit, not audited again (JobQueue.submitOnce); `new-projects` subscriptions match a created project's
 *    first release only; `yank-release`, `remove-release`, `remove-file` and `remove-project` mark the
 *    release, files and audits and cancel the queued ones; `unyank-release` marks them active again
 *    (cancelled audits stay cancelled); a file added to a release the change log yanked is not
 *    audited; other actions are counted as ignored. Backlog limits are
 *    applied (`pause` before a submission that would exceed the limit; `drop-oldest` cancels the
 *    oldest queued audits past it at the end of the page); then the cursor moves to `nextSerial`.
 *
 * Events at or below the stored cursor are skipped, so a page ingested twice changes nothing.
 */
import { PytiError } from '@pyti/vm-agent';
import type { ChangeEvent, ReleaseFile, ReleaseFiles } from '../feeds/feed-types.js';
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';
import type { JobQueue } from '../queue/job-queue.js';
import { BacklogPolicy } from './backlog-policy.js';
import { FeedCursor } from './feed-cursor.js';
import type { FeedQuarantine } from './feed-quarantine.js';
import { ReleaseLedger, type QueuedLink } from './release-ledger.js';
import { subscriptionKind, type IndexMatcher } from './subscription-kinds.js';
import type { SubscriptionRow } from './subscription-store.js';

/**
 * Reads a release's files from the index; throws PYTI_INDEX_NOT_FOUND when the release is gone.
 * `hints.removedInPage`: the page being ingested removes the release (or its project) after its last
 * upload, so a 404 is the truth, not a stale cache: answer it at once instead of retrying it.
 */
export type ResolveRelease = (name: string, version: string, minSerial: number, hints?: { removedInPage?: boolean }) => Promise<ReleaseFiles>;
/** Picks the files of a release to audit (e.g. the sdist and a pure-Python wheel). */
export type SelectFiles = (files: ReleaseFile[]) => ReleaseFile[];

export interface ChangeIngestOptions {
  db: Db;
  queue: JobQueue;
  /**
   * The cursor events are filtered against and moved (the change log's). The PEP 691 follower passes
   * one whose `serial()` is null: its events are deduplicated by the ledger's links, not by a serial.
   */
  cursor: Pick<FeedCursor, 'serial' | 'advance'>;
  resolve: ResolveRelease;
  select: SelectFiles;
  clock: Clock;
  /** Releases read from the index at once (default 4). */
  resolveConcurrency?: number;
  /** Where releases whose JSON API document is unusable are recorded (they are skipped either way). */
  quarantine?: FeedQuarantine;
}

/** What one ingest did. */
export interface IngestResult {
  /** Events newer than the cursor. */
  events: number;
  /** Of those, events that changed nothing (other actions, releases nobody follows). */
  ignored: number;
  submitted: number;
  /** Files linked to an audit of the same file that another subscription or a user had already submitted. */
  shared: number;
  /** Queued audits cancelled because their release or file was yanked or removed. */
  cancelled: number;
  /** Queued audits cancelled by `drop-oldest`. */
  dropped: number;
  /** Subscriptions the backlog limit paused. */
  paused: string[];
  /** Releases gone from the index when their files were read. */
  gone: number;
  /** Releases set aside: their JSON API document is malformed or names another project (PYTI_INDEX_MALFORMED / _MISMATCH). */
  quarantined: number;
  /** The cursor after the ingest. */
  cursor: number;
}

interface LiveSubscription {
  row: SubscriptionRow;
  matcher: IndexMatcher;
  /** Queued audits now (read on first need within the transaction). */
  queued?: number;
}

/** A release whose document cannot be used: skipped and recorded, so one bad release does not stall the change log. */
interface Unusable { code: string; message: string }
type Resolved = ReleaseFiles | 'gone' | Unusable;
/**
 * Errors that say the index's document for one release is broken (not that the index is unreachable).
 * A release document that redirects off the index (PYTI_INDEX_HOST_REFUSED) is one too: the policy
 * refuses it on every try, so waiting for it would stall the whole change log for good.
 */
const UNUSABLE = new Set(['PYTI_INDEX_MALFORMED', 'PYTI_INDEX_MISMATCH', 'PYTI_INDEX_HOST_REFUSED']);
const isUnusable = (r: Resolved | undefined): r is Unusable => typeof r === 'object' && 'code' in r;
const releaseKey = (normalized: string, version: string) => `${normalized}\0${version}`;
const RELEASE_KINDS = new Set(['new-release', 'add-file']);

export class ChangeIngest {
  private readonly ledger: ReleaseLedger;
  private readonly backlog: BacklogPolicy;
  private readonly subsStmt;

  constructor(private readonly opts: ChangeIngestOptions) {
    this.ledger = new ReleaseLedger(opts.db);
    this.backlog = new BacklogPolicy(opts.db, this.ledger, opts.queue);
    this.subsStmt = opts.db.prepare('SELECT * FROM subscriptions ORDER BY id');
  }

  /** Ingests one page of the change log and moves the cursor to `nextSerial` (see the module comment). */
  async ingest(events: ChangeEvent[], nextSerial: number): Promise<IngestResult> {
    const from = this.opts.cursor.serial();
    const fresh = events.filter((e) => from === null || e.serial > from).sort((a, b) => a.serial - b.serial);
    const resolved = await this.resolveWanted(fresh, this.liveSubscriptions());
    return this.opts.db.transaction(() => this.apply(fresh, resolved, nextSerial))();
  }

  /** The subscriptions that follow the index (paused ones too: they count what they skip). */
  private liveSubscriptions(): LiveSubscription[] {
    const out: LiveSubscription[] = [];
    for (const row of this.subsStmt.all() as SubscriptionRow[]) {
      const matcher = subscriptionKind(row.kind)?.indexMatcher(JSON.parse(row.spec) as Record<string, unknown>);
      if (matcher) out.push({ row, matcher });
    }
    return out;
  }

  /** Reads the files of every release an unpaused subscription may want (over-approximating first releases). */
  private async resolveWanted(events: ChangeEvent[], subs: LiveSubscription[]): Promise<Map<string, Resolved>> {
    const active = subs.filter((s) => s.row.paused === 0);
    const createdHere = new Set<string>();
    const wanted = new Map<string, { name: string; version: string; minSerial: number }>();
    // Releases (and projects) the page removes after their last upload in it: gone when read.
    const removedReleases = new Set<string>();
    const removedProjects = new Set<string>();
    for (const e of events) {
      if (e.kind === 'remove-release' && e.version !== null) removedReleases.add(releaseKey(e.normalized, e.version));
      else if (e.kind === 'remove-project') removedProjects.add(e.normalized);
      else if (RELEASE_KINDS.has(e.kind) && e.version !== null) {
        removedReleases.delete(releaseKey(e.normalized, e.version));
        removedProjects.delete(e.normalized);
      }
    }
    for (const e of events) {
      if (e.kind === 'create-project') createdHere.add(e.normalized);
      if (!RELEASE_KINDS.has(e.kind) || e.version === null) continue;
      const v = e.version;
      const want = active.some((s) => (s.row.from_serial === null || e.serial > s.row.from_serial) && (s.matcher.kind === 'names'
        ? s.matcher.test(e.normalized)
        : createdHere.has(e.normalized) || this.mayBeFirst(e.normalized, v)));
      if (!want) continue;
      const k = releaseKey(e.normalized, v);
      const w = wanted.get(k);
      if (w) w.minSerial = Math.max(w.minSerial, e.serial);
      else wanted.set(k, { name: e.name, version: v, minSerial: e.serial });
    }
    const removedInPage = (k: string) => removedReleases.has(k) || removedProjects.has(k.slice(0, k.indexOf('\0')));
    const out = new Map<string, Resolved>();
    const queue = [...wanted.entries()];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [k, w] = next;
        try {
          out.set(k, await this.opts.resolve(w.name, w.version, w.minSerial, removedInPage(k) ? { removedInPage: true } : undefined));
        } catch (err) {
          if (err instanceof PytiError && err.code === 'PYTI_INDEX_NOT_FOUND') out.set(k, 'gone');
          else if (err instanceof PytiError && UNUSABLE.has(err.code)) out.set(k, { code: err.code, message: err.message });
          else throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(queue.length, this.opts.resolveConcurrency ?? 4) }, worker));
    return out;
  }

  private mayBeFirst(normalized: string, version: string): boolean {
    const p = this.ledger.project(normalized);
    return !!p && p.created_serial !== null && p.removed === 0 && (p.first_version === null || p.first_version === version);
  }

  private apply(events: ChangeEvent[], resolved: Map<string, Resolved>, nextSerial: number): IngestResult {
    const subs = this.liveSubscriptions();
    const now = this.opts.clock.now();
    const r: IngestResult = { events: events.length, ignored: 0, submitted: 0, shared: 0, cancelled: 0, dropped: 0, paused: [], gone: 0, quarantined: 0, cursor: 0 };
    const bump = this.opts.db.prepare(`UPDATE subscriptions SET matched = matched + @matched, submitted = submitted + @submitted,
      dropped = dropped + @dropped, cancelled = cancelled + @cancelled, skipped = skipped + @skipped WHERE id = @id`);
    const counts = new Map<number, { matched: number; submitted: number; dropped: number; cancelled: number; skipped: number }>();
    const count = (id: number) => {
      let c = counts.get(id);
      if (!c) counts.set(id, c = { matched: 0, submitted: 0, dropped: 0, cancelled: 0, skipped: 0 });
      return c;
    };
    const queuedOf = (s: LiveSubscription) => (s.queued ??= this.ledger.queuedCount(s.row.id));
    const cancelledJobs = new Set<string>();
    const cancel = (links: QueuedLink[]) => {
      for (const l of links) {
        this.opts.queue.cancel(l.job_id);
        count(l.subscription_id).cancelled++;
        const s = subs.find((x) => x.row.id === l.subscription_id);
        if (s?.queued !== undefined) s.queued--;
        // An audit several subscriptions share is one cancelled audit.
        if (!cancelledJobs.has(l.job_id)) r.cancelled++;
        cancelledJobs.add(l.job_id);
      }
      return links.length;
    };

    const recorded = new Set<string>();
    for (const e of events) {
      const v = e.version;
      switch (e.kind) {
        case 'create-project':
          this.ledger.projectCreated(e.normalized, e.name, e.serial);
          break;
        case 'new-release':
        case 'add-file': {
          if (v === null) { r.ignored++; break; }
          this.ledger.noteRelease(e.normalized, v);
          const p = this.ledger.project(e.normalized);
          const isFirst = !!p && p.created_serial !== null && p.removed === 0 && p.first_version === v;
          const rel = resolved.get(releaseKey(e.normalized, v));
          let followed = false;
          let yanked: boolean | undefined;
          for (const s of subs) {
            if (s.row.from_serial !== null && e.serial <= s.row.from_serial) continue;
            const matches = s.matcher.kind === 'first-release' ? isFirst : s.matcher.test(e.normalized);
            if (!matches) continue;
            followed = true;
            if (s.row.paused === 1) {
              if (e.kind === 'new-release') count(s.row.id).skipped++;
              continue;
            }
            if (e.kind === 'new-release') count(s.row.id).matched++;
            // Not read before the transaction: the subscription was created or resumed meanwhile.
            if (rel === undefined || rel === 'gone' || isUnusable(rel)) continue;
            // The change log yanked it before this file came (the index's answer may predate that).
            if (e.kind === 'add-file' && (yanked ??= this.ledger.releaseState(e.normalized, v) === 'yanked')) continue;
            // A new release submits every file chosen now; an added file, itself if it is chosen.
            const chosen = this.opts.select(rel.files);
            for (const f of e.kind === 'add-file' ? chosen.filter((c) => c.filename === e.filename) : chosen) {
              if (this.ledger.hasLink(s.row.id, e.normalized, v, f.filename)) continue;
              if (this.backlog.pauseIfFull(s.row, queuedOf(s), now)) {
                r.paused.push(s.row.name);
                count(s.row.id).skipped++;
                break;
              }
              const before = queuedOf(s);
              const { audit: job, reused } = this.opts.queue.submitOnce({
                source: { kind: 'index', project: rel.name, version: v, filename: f.filename },
                priority: s.row.priority,
                ...(s.row.backend ? { backend: s.row.backend } : {}),
                uploadedAt: f.uploadTime ?? null,
              });
              this.ledger.link(job.id, s.row.id, e.normalized, v, f.filename, e.serial, now);
              count(s.row.id).submitted++;
              if (job.state === 'queued') s.queued = before + 1;
              if (reused) r.shared++;
              else r.submitted++;
            }
          }
          if (!followed || rel === undefined) { if (!followed) r.ignored++; break; }
          const key = releaseKey(e.normalized, v);
          if (recorded.has(key)) break; // once per release and page: the files were read once
          recorded.add(key);
          if (isUnusable(rel)) {
            r.quarantined++;
            this.opts.quarantine?.record({ source: 'release', serial: String(e.serial), name: e.name, version: v, action: e.action, code: rel.code, reason: rel.message });
            break;
          }
          if (rel === 'gone') r.gone++;
          this.ledger.recordRelease(rel === 'gone' ? e.name : rel.name, e.normalized, v, e.serial, rel === 'gone' ? null : rel.files);
          break;
        }
        case 'yank-release':
        case 'unyank-release':
        case 'remove-release':
          if (v === null) { r.ignored++; break; }
          cancel(this.ledger.markRelease(e.normalized, v,
            e.kind === 'yank-release' ? 'yanked' : e.kind === 'unyank-release' ? 'active' : 'removed', e.action.slice(0, 200), e.serial));
          break;
        case 'remove-file':
          if (v === null || !e.filename) { r.ignored++; break; }
          cancel(this.ledger.markFileRemoved(e.normalized, v, e.filename, e.serial));
          break;
        case 'remove-project':
          cancel(this.ledger.markProjectRemoved(e.normalized, e.serial));
          break;
        default:
          r.ignored++;
      }
    }

    for (const s of subs) {
      if (s.queued === undefined) continue;
      const dropped = this.backlog.dropOldest(s.row, s.queued);
      count(s.row.id).dropped += dropped;
      s.queued -= dropped;
      r.dropped += dropped;
    }
    for (const [id, c] of counts) bump.run({ id, ...c });
    const last = events.length ? events[events.length - 1]!.serial : 0;
    this.opts.cursor.advance(Math.max(nextSerial, last), events.length, r.ignored);
    r.cursor = this.opts.cursor.serial() ?? Math.max(nextSerial, last);
    return r;
  }
}
