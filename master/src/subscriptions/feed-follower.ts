/**
 * Following an index: the change-log poller (the only source of audits) and the RSS poller (only for
 * latency: news in `/rss/updates.xml` or `/rss/packages.xml`, or a gap in them, trigger a change-log
 * poll at once).
 *
 * A change-log poll asks the index's last serial (for the lag), then — on the very first poll, with
 * no cursor — starts the cursor there (only uploads from now on are followed), or else reads pages
 * from the cursor and ingests each (the ingest moves the cursor with the jobs), following `more` at
 * once. A failure is recorded on the cursor (code and message, visible in `GET /api/v1/feed`) and the
 * poller backs off; the cursor stays where the last good page left it.
 */
import { PytiError } from '@pyti/vm-agent';
import type { ChangelogPage } from '../feeds/changelog.js';
import type { ChangeEvent } from '../feeds/feed-types.js';
import type { RssPoll, RssWatchState } from '../feeds/rss-watcher.js';
import type { ChangeIngest } from './change-ingest.js';
import type { FeedCursor } from './feed-cursor.js';
import type { FeedQuarantine } from './feed-quarantine.js';
import { PollLoop, type Timers } from './poll-loop.js';

/** The change-log calls the follower makes (ChangelogReader). */
export interface ChangelogSource {
  lastSerial(): Promise<number>;
  /** The page after `serial`; entries beyond `maxSerial` (the index's last serial) are quarantined, not events. */
  since(serial: number, maxSerial?: number): Promise<ChangelogPage>;
}

/** One RSS feed (RssWatcher). */
export interface RssSource {
  poll(state?: RssWatchState, signal?: AbortSignal): Promise<RssPoll>;
}

export interface FeedFollowerOptions {
  changelog: ChangelogSource;
  /** Feeds by name (`updates`, `packages`); their states are persisted together on the cursor. */
  rss: Record<string, RssSource>;
  ingest: ChangeIngest;
  cursor: FeedCursor;
  pollMs: number;
  rssPollMs: number;
  timers?: Timers;
  /** One line per notable thing (start, audits submitted, gaps, errors). */
  log?: (line: string) => void;
  /** Aborted on stop (pass the same signal to the readers so requests in flight end). */
  abort?: AbortController;
  /** Where quarantined change-log entries are recorded (none: they are only logged). */
  quarantine?: FeedQuarantine;
  /** Called with each ingested page's events (reads PEP 792 status of audited projects; must not throw). */
  afterPage?: (events: ChangeEvent[]) => Promise<void>;
  /** Taken before each poll; a poll is skipped while another master holds it (several masters on PostgreSQL). */
  lock?: { hold(): boolean };
}

const codeOf = (err: unknown) => (err instanceof PytiError ? err.code : 'PYTI_INDEX_UNREACHABLE');
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class FeedFollower {
  readonly changelogLoop: PollLoop;
  readonly rssLoop: PollLoop;
  private readonly log: (line: string) => void;
  private readonly abort: AbortController;

  constructor(private readonly opts: FeedFollowerOptions) {
    this.log = opts.log ?? (() => undefined);
    this.abort = opts.abort ?? new AbortController();
    this.changelogLoop = new PollLoop(() => this.pollChangelog(), {
      everyMs: opts.pollMs, timers: opts.timers,
      onError: (err, ms) => this.log(`change log: ${codeOf(err)}: ${messageOf(err)}; next poll in ${Math.round(ms / 1000)} s`),
    });
    this.rssLoop = new PollLoop(() => this.pollRss(), {
      everyMs: opts.rssPollMs, timers: opts.timers,
      onError: (err, ms) => this.log(`RSS: ${codeOf(err)}: ${messageOf(err)}; next poll in ${Math.round(ms / 1000)} s`),
    });
  }

  /** Whether it follows the index now. */
  get following(): boolean {
    return this.changelogLoop.active;
  }

  /** Starts both pollers (a change-log poll at once). */
  start(): void {
    if (this.following) return;
    this.changelogLoop.start();
    if (Object.keys(this.opts.rss).length > 0) this.rssLoop.start();
  }

  /** Stops both pollers, aborting requests in flight; resolves when no poll runs any more. */
  async stop(): Promise<void> {
    this.abort.abort(new PytiError('PYTI_INDEX_UNREACHABLE', 'the master is closing'));
    await Promise.all([this.changelogLoop.stop(), this.rssLoop.stop()]);
  }

  /** One change-log poll (see the module comment). */
  async pollChangelog(): Promise<void> {
    const { changelog, cursor, ingest } = this.opts;
    if (this.opts.lock && !this.opts.lock.hold()) return;
    try {
      const indexSerial = await changelog.lastSerial();
      cursor.polled(indexSerial);
      if (cursor.serial() === null) {
        cursor.startAt(indexSerial);
        this.log(`change log: starting at serial ${indexSerial} (uploads from now on)`);
      } else if (cursor.serial()! > indexSerial) {
        // Only an untrusted serial (an earlier PyTI followed any entry) can have put it there.
        const was = cursor.serial()!;
        cursor.rewind(indexSerial);
        this.quarantine({ source: 'cursor', serial: String(was), name: null, version: null, action: null, code: 'PYTI_FEED_SERIAL_INVALID',
          reason: `the cursor (${was}) was beyond the index's last serial (${indexSerial}); moved back to ${indexSerial}` });
      }
      for (;;) {
        if (this.abort.signal.aborted) break;
        const from = cursor.serial()!;
        const page = await changelog.since(from, Math.max(indexSerial, from));
        for (const q of page.quarantined ?? []) this.quarantine({ source: 'changelog', ...q });
        const r = await ingest.ingest(page.events, page.nextSerial);
        await this.opts.afterPage?.(page.events);
        if (r.quarantined) this.log(`change log: serials ${from + 1}..${r.cursor}: ${r.quarantined} release(s) quarantined (their JSON API document is unusable; GET /api/v1/feed/quarantine)`);
        if (r.submitted || r.cancelled || r.dropped || r.paused.length) {
          this.log(`change log: serials ${from + 1}..${r.cursor}: ${r.submitted} audits submitted, ${r.cancelled} cancelled (yanked or removed), ${r.dropped} dropped`
            + `${r.paused.length ? `, paused by their backlog: ${r.paused.join(', ')}` : ''}`);
        }
        if (r.cursor > indexSerial) cursor.polled(r.cursor);
        if (!page.more || page.nextSerial <= from) break;
      }
      cursor.succeeded();
    } catch (err) {
      if (!this.abort.signal.aborted) cursor.failed(codeOf(err), messageOf(err));
      throw err;
    }
  }

  /** Records a quarantined item (logged the first time it is seen, with its stable code). */
  private quarantine(item: { source: 'changelog' | 'cursor'; serial: string | null; name: string | null; version: string | null; action: string | null; code: string; reason: string }): void {
    const fresh = this.opts.quarantine ? this.opts.quarantine.record(item) : true;
    if (fresh) this.log(`change log: ${item.code}: quarantined${item.name ? ` ${item.name}${item.version ? ` ${item.version}` : ''}` : ''}${item.serial !== null ? ` (serial ${item.serial})` : ''}: ${item.reason}`);
  }

  /** One RSS poll of every feed: news or a gap trigger a change-log poll. */
  async pollRss(): Promise<void> {
    const { cursor } = this.opts;
    if (this.opts.lock && !this.opts.lock.hold()) return;
    const stored = cursor.row().rss_state;
    const states = (stored ? JSON.parse(stored) : {}) as Record<string, RssWatchState>;
    let fresh = 0;
    let gaps = 0;
    let error: unknown = null;
    for (const [name, source] of Object.entries(this.opts.rss)) {
      try {
        const p = await source.poll(states[name], this.abort.signal);
        if (p.gap) {
          gaps++;
          this.log(`RSS ${name}: a gap since the last poll (items may have been missed); recovering from the change log`);
        }
        if (states[name] !== undefined) fresh += p.items.length;
        states[name] = p.state;
      } catch (err) {
        error ??= err;
      }
    }
    if (this.abort.signal.aborted) return;
    if (fresh > 0 || gaps > 0) this.changelogLoop.trigger();
    cursor.rssPolled(JSON.stringify(states), error ? { code: codeOf(error), message: messageOf(error) } : null, gaps);
    if (error) throw error;
  }
}
