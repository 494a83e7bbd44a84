/**
 * PyPI's change log (the XML-RPC `changelog_since_serial` / `changelog_last_serial` methods of
 * warehouse's `legacy/api/xmlrpc/views.py`), the source of record for subscriptions: entries
 * `[name, version|None, timestamp, action, serial]`, ascending by serial, at most 50,000 per call.
 *
 * `parseChangelog` is pure: it validates the shape and classifies the actions; any page that is not
 * the expected shape is `PYTI_FEED_MALFORMED` as a whole (nothing of it is used, so no cursor moves).
 * Entries whose name or version could never be a project or release URL (ancient journal rows) are
 * kept with kind `other`, so the cursor can pass them.
 */
import { PytiError } from '@pyti/vm-agent';
import { PROJECT_NAME, VERSION_TEXT, backoffDelay, sleep as defaultSleep, normalizeIndexUrl, type RetryPolicy, type FetchPolicy } from '@pyti/common';
import type { ChangeEvent, ChangeKind, QuarantinedEntry } from './feed-types.js';
import { normalizeName } from './pep.js';
import { FeedRateLimitedError, XmlRpcClient } from './xmlrpc-client.js';
import { XmlRpcBigInt, type XmlRpcValue } from './xmlrpc-codec.js';

/** PyPI's page size: a page this long means there may be more. */
export const CHANGELOG_PAGE_SIZE = 50_000;
const MAX_TEXT = 1000;
const FILENAME = /^[A-Za-z0-9][A-Za-z0-9._+!~-]{0,254}$/;

function malformed(why: string): PytiError {
  return new PytiError('PYTI_FEED_MALFORMED', `change log: ${why}`);
}

/** Classifies an action text (`new release`, `add source file foo-1.0.tar.gz`, `remove file …`, …). */
export function classifyAction(action: string): { kind: ChangeKind; filename?: string } {
  switch (action) {
    case 'new release':
      return { kind: 'new-release' };
    case 'remove release':
      return { kind: 'remove-release' };
    case 'remove project':
      return { kind: 'remove-project' };
    case 'yank release':
      return { kind: 'yank-release' };
    case 'unyank release':
      return { kind: 'unyank-release' };
    case 'create':
      return { kind: 'create-project' };
  }
  const add = /^add (\S{1,50}) file (\S+)$/.exec(action);
  if (add && FILENAME.test(add[2]!) && !add[2]!.includes('..')) return { kind: 'add-file', filename: add[2]! };
  const rm = /^remove file (\S+)$/.exec(action);
  if (rm && FILENAME.test(rm[1]!) && !rm[1]!.includes('..')) return { kind: 'remove-file', filename: rm[1]! };
  return { kind: 'other' };
}

/** What one `changelog_since_serial` answer holds once every entry was checked on its own. */
export interface CheckedChangelog {
  events: ChangeEvent[];
  /** Entries set aside (see QuarantinedEntry); the rest of the page is used. */
  quarantined: QuarantinedEntry[];
  /** The highest trusted serial of the page (events and malformed entries with a good serial), or `after`/-1. */
  lastTrusted: number;
  /** Entries in the answer, good or not (a full page means there may be more). */
  raw: number;
}

const cap = (v: unknown): string | null => (typeof v === 'string' ? v.slice(0, 200) : v === null || v === undefined ? null : describe(v));
function describe(v: unknown): string {
  if (v instanceof XmlRpcBigInt) return v.digits.slice(0, 200);
  if (typeof v === 'number') return String(v).slice(0, 200);
  return `(${Array.isArray(v) ? 'array' : v === null ? 'nil' : typeof v})`;
}

/**
 * Checks a `changelog_since_serial` answer entry by entry: an answer that is not an array is
 * `PYTI_FEED_MALFORMED` as a whole, but one bad entry is quarantined and the others are used, so a
 * single hostile or broken entry cannot stall following. A serial must be a safe integer above
 * `after` and the previous trusted serial, and at most `maxSerial` (the index's own last serial)
 * when given; names, versions and actions are strings of at most 1,000 characters.
 */
export function checkChangelog(value: XmlRpcValue, opts: { after?: number; maxSerial?: number } = {}): CheckedChangelog {
  if (!Array.isArray(value)) throw malformed('the answer is not an array');
  const events: ChangeEvent[] = [];
  const quarantined: QuarantinedEntry[] = [];
  let last = opts.after ?? -1;
  for (const [i, e] of value.entries()) {
    const fields = Array.isArray(e) ? e : [];
    const q = (code: QuarantinedEntry['code'], reason: string, beyondIndex = false): void => {
      quarantined.push({ serial: fields.length > 4 ? cap(fields[4]) : null, name: cap(fields[0]), version: cap(fields[1]), action: cap(fields[3]),
        code, reason: `entry ${i}: ${reason}`, ...(beyondIndex ? { beyondIndex } : {}) });
    };
    if (!Array.isArray(e) || e.length !== 5) { q('PYTI_FEED_ENTRY_MALFORMED', 'not [name, version, timestamp, action, serial]'); continue; }
    const [name, version, timestamp, action, serial] = e;
    if (typeof serial !== 'number' || !Number.isSafeInteger(serial) || serial < 0) { q('PYTI_FEED_SERIAL_INVALID', `the serial ${describe(serial)} is not a whole number PyTI can hold`); continue; }
    if (serial <= last) { q('PYTI_FEED_SERIAL_INVALID', `serial ${serial} does not ascend (after ${last})`); continue; }
    if (opts.maxSerial !== undefined && serial > opts.maxSerial) { q('PYTI_FEED_SERIAL_INVALID', `serial ${serial} is beyond the index's last serial ${opts.maxSerial}`, true); continue; }
    // From here on the serial is trusted: the cursor may pass a malformed entry.
    last = serial;
    let why: string | null = null;
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_TEXT) why = `the name is not a string of 1 to ${MAX_TEXT} characters`;
    else if (version !== null && (typeof version !== 'string' || version.length > MAX_TEXT)) why = `the version is not a string of at most ${MAX_TEXT} characters, or nil`;
    else if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) why = 'the timestamp is not a whole number of seconds';
    else if (typeof action !== 'string' || action.length > MAX_TEXT) why = `the action is not a string of at most ${MAX_TEXT} characters`;
    if (why !== null) { q('PYTI_FEED_ENTRY_MALFORMED', why); continue; }
    const n = name as string;
    const ver = version as string | null;
    const usable = PROJECT_NAME.test(n) && (ver === null || (ver !== '' && VERSION_TEXT.test(ver)));
    const { kind, filename } = usable ? classifyAction(action as string) : { kind: 'other' as const, filename: undefined };
    const ev: ChangeEvent = { name: n, normalized: normalizeName(n), version: ver === '' ? null : ver, timestamp: timestamp as number, action: action as string, kind, serial };
    if (filename !== undefined) ev.filename = filename;
    events.push(ev);
  }
  return { events, quarantined, lastTrusted: last, raw: value.length };
}

/**
 * Validates and classifies a `changelog_since_serial` answer strictly: any entry that `checkChangelog`
 * would quarantine makes the whole page `PYTI_FEED_MALFORMED` (for callers that want all or nothing).
 */
export function parseChangelog(value: XmlRpcValue, opts: { after?: number } = {}): ChangeEvent[] {
  const r = checkChangelog(value, opts);
  if (r.quarantined.length) throw malformed(r.quarantined[0]!.reason);
  return r.events;
}

/** How to back off when the index rate-limits the change-log calls. */
export interface RateLimitRetry extends Pick<RetryPolicy, 'initialMs' | 'maxMs' | 'factor'> {
  /** Calls in all (the first and the retries). */
  attempts: number;
  /** The longest wait a server's retry-after hint can ask for. Default 15 minutes. */
  maxHintMs: number;
}

export interface ChangelogReaderOptions {
  /** The index base, e.g. `https://pypi.org`; XML-RPC is at `<indexUrl>/pypi`. */
  indexUrl: string;
  /** Per call. Default 120 s. */
  timeoutMs?: number;
  /** Largest answer. Default 64 MiB. */
  maxResponseBytes?: number;
  /** A page this long means there may be more. Default 50,000 (PyPI's). */
  pageSize?: number;
  /** Default: 6 attempts, 2 s doubling to 60 s, with jitter; a fault's or 429's retry-after hint is honoured when longer. */
  retry?: Partial<RateLimitRetry>;
  fetch?: typeof fetch;
  /** Where calls and redirects may go (default: the index's origin). */
  policy?: FetchPolicy;
  /** Injectable for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  signal?: AbortSignal;
}

/** One page of the change log. */
export interface ChangelogPage {
  events: ChangeEvent[];
  /** The serial to ask from next: the last event's, or the one asked from when the page is empty. */
  nextSerial: number;
  /** The page was full: ask again at once. */
  more: boolean;
  /** Entries set aside (not events; the cursor never moves to an untrusted serial). */
  quarantined?: QuarantinedEntry[];
}

const DEFAULT_RETRY: RateLimitRetry = { attempts: 6, initialMs: 2000, maxMs: 60_000, factor: 2, maxHintMs: 15 * 60_000 };

/**
 * Reads the change log of an index. It returns data and keeps no cursor: the caller persists
 * `nextSerial` after it has handled the events, so a failure (malformed page, fault, rate limit past
 * the retries) leaves the cursor where it was.
 */
export class ChangelogReader {
  private readonly client: XmlRpcClient;
  private readonly pageSize: number;
  private readonly retry: RateLimitRetry;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly signal?: AbortSignal;

  constructor(opts: ChangelogReaderOptions) {
    const base = normalizeIndexUrl(opts.indexUrl);
    this.client = new XmlRpcClient({ url: `${base}/pypi`, timeoutMs: opts.timeoutMs, maxResponseBytes: opts.maxResponseBytes, fetch: opts.fetch, policy: opts.policy });
    this.pageSize = opts.pageSize ?? CHANGELOG_PAGE_SIZE;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.sleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
    this.signal = opts.signal;
  }

  /** `changelog_last_serial`: the index's newest serial (where a subscription "from now" starts); 0 for an empty log (nil). */
  async lastSerial(): Promise<number> {
    const v = await this.callWithBackoff('changelog_last_serial', []);
    if (v === null) return 0;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw malformed('changelog_last_serial did not answer a whole number');
    return v;
  }

  /**
   * `changelog_since_serial(serial)`: the events after `serial`, validated and classified entry by
   * entry. With `maxSerial` (the index's last serial, asked before), an entry beyond it is quarantined;
   * since uploads may land between the two calls, the last serial is asked once more first, and
   * only what lies beyond that fresh bound is set aside.
   */
  async since(serial: number, maxSerial?: number): Promise<ChangelogPage> {
    if (!Number.isSafeInteger(serial) || serial < 0 || serial >= 2 ** 31) throw new PytiError('PYTI_CONFIG_INVALID', `change log: serial ${serial} is not a whole number XML-RPC can carry`);
    const v = await this.callWithBackoff('changelog_since_serial', [serial]);
    let checked = checkChangelog(v, { after: serial, maxSerial });
    if (maxSerial !== undefined && checked.quarantined.some((q) => q.beyondIndex)) {
      const fresh = await this.lastSerial();
      if (fresh > maxSerial) checked = checkChangelog(v, { after: serial, maxSerial: fresh });
    }
    return { events: checked.events, nextSerial: Math.max(serial, checked.lastTrusted), more: checked.raw >= this.pageSize, quarantined: checked.quarantined };
  }

  private async callWithBackoff(method: string, params: XmlRpcValue[]): Promise<XmlRpcValue> {
    const policy: RetryPolicy = { ...this.retry, deadlineMs: Number.MAX_SAFE_INTEGER };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.call(method, params, this.signal);
      } catch (err) {
        if (!(err instanceof FeedRateLimitedError) || attempt >= this.retry.attempts) throw err;
        const wait = Math.max(backoffDelay(attempt, policy, this.random), Math.min(err.retryAfterMs ?? 0, this.retry.maxHintMs));
        await this.sleep(wait, this.signal);
      }
    }
  }
}
