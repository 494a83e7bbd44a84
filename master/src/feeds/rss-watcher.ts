/**
 * Polling an RSS feed for what is new since the last poll. RSS is lossy (PyPI keeps the latest 100
 * releases, one-second pubDates, no guid), so items are deduplicated by (normalized name, version),
 * never by timestamp, and a poll whose oldest item is not older than the newest item seen before —
 * while that item is gone from the feed — may have missed items: `gap: true`, and the caller recovers
 * them from the change log.
 *
 * The watcher keeps no state of its own: the caller passes the state of the previous poll and
 * persists the returned one only after it has handled the new items.
 */
import type { FeedItem } from './feed-types.js';
import { readCappedText } from './http-body.js';
import { MAX_RSS_CHARS, parseRssPackages, parseRssUpdates } from './rss.js';
import { PytiError } from '@pyti/vm-agent';
import { FetchPolicy, policyFetch } from '@pyti/common';

/** What the caller persists between polls (JSON-serializable). */
export interface RssWatchState {
  /** The newest item seen so far (by pubDate; ties keep the first seen). */
  newest: { publishedMs: number; normalized: string; version: string | null } | null;
  /** Keys (`rssKey`) of the recently seen items, oldest first, at most `recentLimit`. */
  recent: string[];
}

/** The result of one poll. */
export interface RssPoll {
  /** Items not seen before, in feed order (newest first). */
  items: FeedItem[];
  /** The poll may have missed items between the previous poll and this one. */
  gap: boolean;
  /** The state to persist once `items` are handled. */
  state: RssWatchState;
}

/** An empty state: the first poll returns every item of the feed as new, and no gap. */
export function emptyRssState(): RssWatchState {
  return { newest: null, recent: [] };
}

/** The deduplication key: normalized name and version. */
export function rssKey(item: { normalized: string; version: string | null }): string {
  return `${item.normalized} ${item.version ?? ''}`;
}

/** Pure: the new items of a parsed feed given the previous state (see the module comment). */
export function diffRssItems(feed: readonly FeedItem[], prev: RssWatchState, recentLimit = 2000): RssPoll {
  const seen = new Set(prev.recent);
  const fresh: FeedItem[] = [];
  const batch = new Set<string>();
  for (const it of feed) {
    const k = rssKey(it);
    if (seen.has(k) || batch.has(k)) continue;
    batch.add(k);
    fresh.push(it);
  }
  let gap = false;
  if (prev.newest && feed.length > 0) {
    const oldest = Math.min(...feed.map((i) => i.publishedMs));
    const newestKey = rssKey(prev.newest);
    gap = oldest >= prev.newest.publishedMs && !feed.some((i) => rssKey(i) === newestKey);
  }
  let newest = prev.newest;
  for (const it of feed) {
    if (!newest || it.publishedMs > newest.publishedMs) newest = { publishedMs: it.publishedMs, normalized: it.normalized, version: it.version };
  }
  // Oldest first in `recent`: add this poll's new keys oldest first, then trim from the front.
  const recent = [...prev.recent, ...[...fresh].reverse().map(rssKey)];
  return { items: fresh, gap, state: { newest, recent: recent.slice(Math.max(0, recent.length - recentLimit)) } };
}

export interface RssWatcherOptions {
  /** The feed's URL, e.g. `https://pypi.org/rss/updates.xml`. */
  url: string;
  /** `updates` (`/rss/updates.xml`) or `packages` (`/rss/packages.xml`). */
  kind: 'updates' | 'packages';
  /** How many keys the state remembers; keep it well above the feed's length. Default 2000. */
  recentLimit?: number;
  /** Default 30 s. */
  timeoutMs?: number;
  /** One exchange without redirects (tests); default the policy's pinned transport. */
  fetch?: typeof fetch;
  /** Where the feed and its redirects may go (default: the feed URL's own origin). */
  policy?: FetchPolicy;
}

/** Fetches and diffs one feed. */
export class RssWatcher {
  constructor(private readonly opts: RssWatcherOptions) {}

  /** Fetches the feed and returns what is new since `state` (nothing is persisted here). */
  async poll(state: RssWatchState = emptyRssState(), signal?: AbortSignal): Promise<RssPoll> {
    const what = `RSS feed ${this.opts.url}`;
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 30_000);
    let xml: string;
    try {
      const policy = this.opts.policy ?? FetchPolicy.forIndex(new URL(this.opts.url).origin, { filesHosts: [] });
      const res = await policyFetch(policy, this.opts.url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, headers: { 'user-agent': 'pyti-master' } }, { transport: this.opts.fetch });
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        if (res.status === 429) throw new PytiError('PYTI_FEED_RATE_LIMITED', `${what}: HTTP 429`);
        throw new PytiError('PYTI_INDEX_UNREACHABLE', `${what}: HTTP ${res.status}`);
      }
      xml = await readCappedText(res, MAX_RSS_CHARS, what);
    } catch (err) {
      if (err instanceof PytiError) throw err;
      if (signal?.aborted) throw signal.reason;
      throw new PytiError('PYTI_INDEX_UNREACHABLE', `${what}: ${(err as Error).message}`, { cause: err });
    }
    const feed = this.opts.kind === 'updates' ? parseRssUpdates(xml) : parseRssPackages(xml);
    return diffRssItems(feed, state, this.opts.recentLimit);
  }
}
