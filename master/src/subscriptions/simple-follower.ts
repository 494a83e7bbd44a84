/**
 * Following an index through its PEP 691 JSON Simple API, without XML-RPC (as bandersnatch does since
 * PyPI began retiring `changelog_since_serial`): alone (`pyti master --feed simple`) or as a periodic
 * reconciliation pass beside the change log (`--feed both`), through the same ingest, so a file is
 * audited once per subscription whichever follower saw it first.
 *
 * One pass:
 * 1. asks the root listing with the last ETag: a 304 ends the pass (no project page is fetched);
 * 2. on the very first pass, records every project's `_last-serial` and fetches nothing (only uploads
 *    from now on are followed, as the change log starts at its last serial);
 * 3. otherwise fetches the page of every project whose `_last-serial` grew (or that is new), oldest
 *    change first, records its PEP 792 status, and diffs its files against what the master has seen
 *    (this follower's files and the change log's release ledger). A file not seen is submitted through
 *    the change ingest (`add-file`, after `create` / `new release` when the project or version is
 *    new) unless its PEP 700 upload time is older than the follower's start minus the backfill window
 *    (14 days by default: PyPI refuses new files in a release after 14 days, so nothing older can
 *    still be missing from the change log). A project listed at the first pass was there before
 *    following began: its files uploaded before the follower started (less START_SKEW_MS for the
 *    index's clock) are recorded as seen, not submitted, so a fresh master follows uploads from now
 *    on and not the two weeks before each project's next release; the backfill window applies to
 *    projects that appeared since (e.g. shown again after a quarantine);
 * 4. keeps the root's ETag only once every changed project was processed (a failure leaves the rest
 *    for the next pass; what was done is not done again). A page that is malformed or names another
 *    project is quarantined (`GET /api/v1/feed/quarantine`) and the pass moves on.
 *
 * Removals are not inferred from a page (a quarantined project lists no files): the change log, when
 * followed too, reports them.
 */
import { PytiError } from '@pyti/vm-agent';
import type { ChangeEvent } from '../feeds/feed-types.js';
import type { SimpleProject, SimpleRoot, SimpleRootProject } from '../feeds/simple-index.js';
import type { Clock } from '../queue/clock.js';
import type { SimpleFeedStatus } from '../user-api.js';
import type { ChangeIngest } from './change-ingest.js';
import type { FeedQuarantine } from './feed-quarantine.js';
import { PollLoop, type Timers } from './poll-loop.js';
import type { ProjectStatusStore } from './project-status-store.js';
import type { SimpleFollowStore } from './simple-follow-store.js';

/** The Simple API calls the follower makes (SimpleIndexReader). */
export interface SimpleSource {
  rootListing(etag?: string | null): Promise<SimpleRoot>;
  project(name: string): Promise<SimpleProject>;
}

/** PyPI's rule: a release takes no new files after 14 days. */
export const BACKFILL_WINDOW_MS = 14 * 24 * 3600_000;

/**
 * How far the index's clock (PEP 700 upload times) may be behind the master's: a file of a project
 * known at the first pass counts as uploaded before following began only when its upload time is this
 * much older than the follower's start (a file uploaded just after the start is never skipped).
 */
export const START_SKEW_MS = 10 * 60_000;

export interface SimpleFollowerOptions {
  source: SimpleSource;
  store: SimpleFollowStore;
  /** A ChangeIngest over a cursor whose serial() is null (events are deduplicated by the ledger). */
  ingest: ChangeIngest;
  clock: Clock;
  quarantine?: FeedQuarantine;
  statuses?: ProjectStatusStore;
  everyMs: number;
  /** Files uploaded before (start − window) are never submitted. Default 14 days. */
  backfillWindowMs?: number;
  /** Project pages fetched at once. Default 4. */
  concurrency?: number;
  timers?: Timers;
  log?: (line: string) => void;
  abort?: AbortController;
  /** Taken before each pass; a pass is skipped while another master holds it (several masters on PostgreSQL). */
  lock?: { hold(): boolean };
}

/** What one pass did. */
export interface SimplePassResult {
  notModified: boolean;
  /** The first pass: serials recorded, nothing fetched. */
  baseline: boolean;
  /** Projects whose `_last-serial` grew. */
  changed: number;
  /** Project pages fetched. */
  fetched: number;
  /** Files not seen before, inside the window. */
  newFiles: number;
  /** Files not seen before but uploaded before the window (recorded, not submitted). */
  tooOld: number;
  /** Files of projects listed at the first pass, uploaded before the follower started (recorded, not submitted). */
  beforeStart: number;
  submitted: number;
  quarantined: number;
  /** `project: old → new` status changes. */
  statusChanges: string[];
}

const UNUSABLE = new Set(['PYTI_INDEX_MALFORMED', 'PYTI_INDEX_MISMATCH']);
const codeOf = (err: unknown) => (err instanceof PytiError ? err.code : 'PYTI_INDEX_UNREACHABLE');
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class SimpleFollower {
  readonly loop: PollLoop;
  private readonly log: (line: string) => void;
  private readonly abort: AbortController;

  constructor(private readonly opts: SimpleFollowerOptions) {
    this.log = opts.log ?? (() => undefined);
    this.abort = opts.abort ?? new AbortController();
    this.loop = new PollLoop(async () => { if (!this.opts.lock || this.opts.lock.hold()) await this.poll(); }, {
      everyMs: opts.everyMs, timers: opts.timers,
      onError: (err, ms) => this.log(`simple index: ${codeOf(err)}: ${messageOf(err)}; next pass in ${Math.round(ms / 1000)} s`),
    });
  }

  get following(): boolean {
    return this.loop.active;
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.abort.abort(new PytiError('PYTI_INDEX_UNREACHABLE', 'the master is closing'));
    await this.loop.stop();
  }

  /** The API's view. */
  status(): SimpleFeedStatus {
    const r = this.opts.store.state();
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      following: this.following, startedAt: iso(r.started_at)!, rootSerial: r.root_serial, lastPollAt: iso(r.last_poll_at), lastSuccessAt: iso(r.last_success_at),
      lastError: r.last_error_code ? { code: r.last_error_code, message: r.last_error_message ?? '' } : null,
      notModified: r.not_modified, pagesFetched: r.pages_fetched, filesFound: r.files_found,
    };
  }

  /** One pass (see the module comment). */
  async poll(): Promise<SimplePassResult> {
    const { store, source } = this.opts;
    const r: SimplePassResult = { notModified: false, baseline: false, changed: 0, fetched: 0, newFiles: 0, tooOld: 0, beforeStart: 0, submitted: 0, quarantined: 0, statusChanges: [] };
    const state = store.state();
    store.polled();
    try {
      const root = await source.rootListing(state.etag);
      if (root.notModified) {
        store.notModified();
        r.notModified = true;
        return r;
      }
      const known = store.projectSerials();
      if (state.root_serial === null && known.size === 0) {
        store.baseline(root.projects);
        store.rootDone(root.etag, root.lastSerial ?? Math.max(0, ...root.projects.map((p) => p.lastSerial)));
        r.baseline = true;
        this.log(`simple index: following from serial ${root.lastSerial ?? 0} (${root.projects.length} projects; uploads from now on)`);
        return r;
      }
      const changed = root.projects.filter((p) => (known.get(p.normalized) ?? -1) < p.lastSerial).sort((a, b) => a.lastSerial - b.lastSerial);
      r.changed = changed.length;
      let stale = false;
      const queue = [...changed];
      // A project that fails (the index did not answer) does not stop the others; the pass then fails
      // with its error, once every worker is done, without keeping the root's ETag.
      const errors: unknown[] = [];
      const worker = async () => {
        for (let p = queue.shift(); p && !this.abort.signal.aborted; p = queue.shift()) {
          try {
            if (!(await this.project(p, !known.has(p.normalized), state.started_at, r))) stale = true;
          } catch (err) {
            errors.push(err);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(queue.length, this.opts.concurrency ?? 4) }, worker));
      if (this.abort.signal.aborted) return r;
      if (errors.length) throw errors[0];
      // A page older than the listing said (a cache) is read again next pass: the listing then too.
      store.rootDone(stale ? null : root.etag, root.lastSerial);
      if (r.fetched || r.quarantined) {
        this.log(`simple index: ${r.changed} projects changed, ${r.fetched} pages read, ${r.newFiles} new files, ${r.submitted} audits submitted`
          + `${r.tooOld ? `, ${r.tooOld} older than the backfill window` : ''}${r.beforeStart ? `, ${r.beforeStart} uploaded before following began` : ''}${r.quarantined ? `, ${r.quarantined} quarantined` : ''}`);
      }
      return r;
    } catch (err) {
      if (!this.abort.signal.aborted) store.failed(codeOf(err), messageOf(err));
      throw err;
    }
  }

  /** Processes one changed project; returns false when its page was older than the listing's serial. */
  private async project(p: SimpleRootProject, isNew: boolean, startedAt: number, r: SimplePassResult): Promise<boolean> {
    const { store, ingest } = this.opts;
    let page: SimpleProject;
    try {
      page = await this.opts.source.project(p.name);
    } catch (err) {
      if (err instanceof PytiError && err.code === 'PYTI_INDEX_NOT_FOUND') {
        store.projectDone(p.normalized, p.name, p.lastSerial, []);
        return true;
      }
      if (err instanceof PytiError && UNUSABLE.has(err.code)) {
        r.quarantined++;
        if (this.opts.quarantine?.record({ source: 'simple', serial: String(p.lastSerial), name: p.name, version: null, action: 'simple project page', code: err.code, reason: err.message }) ?? true) {
          this.log(`simple index: ${err.code}: quarantined the page of ${p.name} (serial ${p.lastSerial}): ${err.message}`);
        }
        store.projectDone(p.normalized, p.name, p.lastSerial, []);
        return true;
      }
      throw err;
    }
    r.fetched++;
    const serial = page.lastSerial ?? p.lastSerial;
    const before = this.opts.statuses?.get(p.normalized)?.status ?? 'active';
    if (this.opts.statuses?.record(p.normalized, page.status, page.statusReason, serial)) {
      r.statusChanges.push(`${p.name}: ${before} → ${page.status}`);
      this.log(`simple index: ${p.name} is now ${page.status} (PEP 792)${page.statusReason ? `: ${page.statusReason}` : ''}`);
    }
    const seen = store.seenFiles(p.normalized);
    const windowStart = startedAt - (this.opts.backfillWindowMs ?? BACKFILL_WINDOW_MS);
    const fresh = page.files.filter((f) => !seen.has(f.filename));
    const inWindow = fresh.filter((f) => f.uploadMs === null || f.uploadMs >= windowStart);
    r.tooOld += fresh.length - inWindow.length;
    // A project the first pass listed: what it had before following began is not a new upload.
    const candidates = isNew ? inWindow : inWindow.filter((f) => f.uploadMs === null || f.uploadMs >= startedAt - START_SKEW_MS);
    r.beforeStart += inWindow.length - candidates.length;
    r.newFiles += candidates.length;
    if (candidates.length) {
      const seenVersions = new Set(page.files.filter((f) => seen.has(f.filename)).map((f) => f.version));
      const now = Math.floor(this.opts.clock.now() / 1000);
      const base = { name: p.name, normalized: p.normalized, serial };
      const events: ChangeEvent[] = [];
      if (isNew) events.push({ ...base, version: null, timestamp: now, action: 'create', kind: 'create-project' });
      for (const f of candidates) {
        const timestamp = f.uploadMs === null ? now : Math.floor(f.uploadMs / 1000);
        if (!seenVersions.has(f.version)) {
          seenVersions.add(f.version);
          events.push({ ...base, version: f.version, timestamp, action: 'new release', kind: 'new-release' });
        }
        events.push({ ...base, version: f.version, timestamp, action: `add file ${f.filename}`, kind: 'add-file', filename: f.filename });
      }
      const done = await ingest.ingest(events, serial);
      r.submitted += done.submitted;
      r.quarantined += done.quarantined;
    }
    store.projectDone(p.normalized, p.name, serial, page.files.map((f) => ({ filename: f.filename, version: f.version, sha256: f.sha256 ?? null, uploadMs: f.uploadMs })));
    store.count(1, candidates.length);
    return serial >= p.lastSerial;
  }
}
