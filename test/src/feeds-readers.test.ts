/**
 * The master's feed readers (master/src/feeds) against the test index's change log, RSS feeds and
 * JSON API, with its fault injection: paging, rate limits, truncated and malformed answers, stale JSON
 * answers, and RSS gaps.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { ChangelogReader, emptyRssState, resolveReleaseFiles, RssWatcher, selectFilesToAudit, type ChangeEvent } from '@pyti/master';
import { tinyWheel } from '../../master/src/testing/tiny-dists.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

let tmp: string;
let server: IndexServer;
let now = Date.UTC(2024, 5, 1, 12, 0, 0);

/** Publishes a tiny pure wheel; `name` is the project name as uploaded (`Feed_Beta`), the wheel file uses its PEP 427 form. */
async function publish(name: string, version: string): Promise<number> {
  const w = tinyWheel(name.replace(/[-.]+/g, '_'), version);
  const path = join(tmp, w.filename);
  writeFileSync(path, w.bytes);
  return server.publish(path);
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return err instanceof PytiError ? err.code : `not a PytiError: ${String(err)}`;
  }
  return undefined;
}

/** Reads the whole change log after `from`, page by page, as a subscription would. */
async function readAll(reader: ChangelogReader, from: number): Promise<{ events: ChangeEvent[]; pages: number; cursor: number }> {
  const events: ChangeEvent[] = [];
  let cursor = from;
  let pages = 0;
  for (;;) {
    const page = await reader.since(cursor);
    pages++;
    events.push(...page.events);
    cursor = page.nextSerial;
    if (!page.more) return { events, pages, cursor };
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'pyti-feeds-'));
  server = await startIndexServer({ files: [], changelogPageSize: 4, rssItems: 5, clock: () => (now += 1000) });
});
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('change log over XML-RPC', () => {
  it('pages through changelog_since_serial and classifies every action', async () => {
    const reader = new ChangelogReader({ indexUrl: server.url, pageSize: 4 });
    const start = await reader.lastSerial();
    expect(start).toBe(0); // the empty index answers nil
    await publish('feed-alpha', '1.0');
    await publish('feed-alpha', '1.1');
    await publish('Feed_Beta', '0.1');
    server.addNoise('feed-alpha', 'add Owner alice');
    server.yank('feed-alpha', '1.0', 'oops');
    server.unyank('feed-alpha', '1.0');
    server.removeFile('feed_alpha-1.1-py3-none-any.whl');
    server.removeRelease('feed-alpha', '1.1');
    const last = server.removeProject('Feed_Beta');
    expect(await reader.lastSerial()).toBe(last);

    const { events, pages, cursor } = await readAll(reader, start);
    expect(cursor).toBe(last);
    expect(pages).toBe(Math.floor(events.length / 4) + 1);
    expect(events.map((e) => e.serial)).toEqual(server.changelog().filter((e) => e[4] > start).map((e) => e[4]));
    expect(events.map((e) => [e.normalized, e.version, e.kind, e.filename ?? null])).toEqual([
      ['feed-alpha', null, 'create-project', null],
      ['feed-alpha', '1.0', 'new-release', null],
      ['feed-alpha', '1.0', 'add-file', 'feed_alpha-1.0-py3-none-any.whl'],
      ['feed-alpha', '1.1', 'new-release', null],
      ['feed-alpha', '1.1', 'add-file', 'feed_alpha-1.1-py3-none-any.whl'],
      ['feed-beta', null, 'create-project', null],
      ['feed-beta', '0.1', 'new-release', null],
      ['feed-beta', '0.1', 'add-file', 'Feed_Beta-0.1-py3-none-any.whl'],
      ['feed-alpha', null, 'other', null],
      ['feed-alpha', '1.0', 'yank-release', null],
      ['feed-alpha', '1.0', 'unyank-release', null],
      ['feed-alpha', '1.1', 'remove-file', 'feed_alpha-1.1-py3-none-any.whl'],
      ['feed-alpha', '1.1', 'remove-release', null],
      ['feed-beta', null, 'remove-project', null],
    ]);
    expect(events[5]!.name).toBe('Feed_Beta');
    expect((await reader.since(last)).events).toEqual([]);
  });

  it('backs off on rate-limit faults (200 and 429) and then succeeds', async () => {
    const waits: number[] = [];
    const reader = new ChangelogReader({ indexUrl: server.url, pageSize: 4, sleep: async (ms) => void waits.push(ms), retry: { initialMs: 50, maxMs: 200 } });
    server.injectFaults({ rateLimit: 2, rateLimitResetSeconds: 1 });
    const last = await reader.lastSerial();
    expect(last).toBe(server.lastSerial());
    expect(waits).toEqual([1000, 1000]); // the fault's "Limit may reset in 1 seconds."
    server.injectFaults({ rateLimit: 1, rateLimitHttpStatus: 429 });
    const page = await reader.since(last - 2);
    expect(page.events).toHaveLength(2);
    expect(waits).toHaveLength(3);
    server.injectFaults({ rateLimitHttpStatus: 200 });
  });

  it('gives up on a lasting rate limit with PYTI_FEED_RATE_LIMITED', async () => {
    const reader = new ChangelogReader({ indexUrl: server.url, sleep: async () => undefined, retry: { attempts: 3 } });
    server.injectFaults({ rateLimit: 3 });
    expect(await codeOf(reader.since(0))).toBe('PYTI_FEED_RATE_LIMITED');
    expect(server.pendingFaults().rateLimit).toBe(0);
  });

  it('reports truncated and malformed answers as PYTI_FEED_MALFORMED; the same page reads fine after', async () => {
    const reader = new ChangelogReader({ indexUrl: server.url, pageSize: 4 });
    const cursor = server.changelog()[0]![4] - 1;
    const good = await reader.since(cursor);
    server.injectFaults({ truncate: 1 });
    expect(await codeOf(reader.since(cursor))).toBe('PYTI_FEED_MALFORMED');
    server.injectFaults({ malformed: 1 });
    expect(await codeOf(reader.since(cursor))).toBe('PYTI_FEED_MALFORMED');
    expect(await reader.since(cursor)).toEqual(good);
  });
});

describe('RSS feeds', () => {
  it('returns new releases once, and flags a gap after more releases than the feed holds', async () => {
    const updates = new RssWatcher({ url: `${server.url}/rss/updates.xml`, kind: 'updates' });
    const first = await updates.poll(emptyRssState());
    expect(first.gap).toBe(false);
    expect(first.items.length).toBeGreaterThan(0);
    expect((await updates.poll(first.state)).items).toEqual([]);

    await publish('feed-gamma', '1.0');
    await publish('feed-gamma', '1.1');
    const second = await updates.poll(first.state);
    expect(second.items.map((i) => `${i.normalized} ${i.version}`)).toEqual(['feed-gamma 1.1', 'feed-gamma 1.0']);
    expect(second.gap).toBe(false);

    for (let i = 0; i < 7; i++) await publish('feed-delta', `2.${i}`); // the feed holds 5
    const third = await updates.poll(second.state);
    expect(third.gap).toBe(true);
    expect(third.items).toHaveLength(5);
    expect(third.items[0]!.version).toBe('2.6');
    // The caller recovers the rest from the change log; the next poll is clean.
    const fourth = await updates.poll(third.state);
    expect([fourth.items.length, fourth.gap]).toEqual([0, false]);
  });

  it('reads /rss/packages.xml, and a truncated or malformed feed is an error that leaves the state alone', async () => {
    const packages = new RssWatcher({ url: `${server.url}/rss/packages.xml`, kind: 'packages' });
    const first = await packages.poll();
    expect(first.items.every((i) => i.version === null)).toBe(true);
    expect(first.items.map((i) => i.normalized)).toContain('feed-delta');
    server.injectFaults({ rssMalformed: 1 });
    expect(await codeOf(packages.poll(first.state))).toBe('PYTI_FEED_MALFORMED');
    server.injectFaults({ rssTruncate: 1 });
    expect(await codeOf(packages.poll(first.state))).toBe('PYTI_FEED_MALFORMED');
    await publish('feed-epsilon', '0.1');
    expect((await packages.poll(first.state)).items.map((i) => i.normalized)).toEqual(['feed-epsilon']);
  });
});

describe('release files from the JSON API', () => {
  it('retries a stale answer until X-PyPI-Last-Serial reaches the event, then reads the files', async () => {
    const published = await publish('feed-zeta', '1.0');
    const yankSerial = server.yank('feed-zeta', '1.0', 'bad build');
    server.injectFaults({ stale: { project: 'feed-zeta', count: 2, serial: published } });
    const waits: number[] = [];
    const r = await resolveReleaseFiles(server.url, 'Feed.Zeta', '1.0', { minSerial: yankSerial, retries: 3, sleep: async (ms) => void waits.push(ms) });
    expect(waits).toHaveLength(2);
    expect(r.lastSerial).toBe(yankSerial);
    expect(r.normalized).toBe('feed-zeta');
    expect(r.files.map((f) => [f.filename, f.yanked, f.yankedReason])).toEqual([['feed_zeta-1.0-py3-none-any.whl', true, 'bad build']]);
    expect(selectFilesToAudit(r.files)).toEqual([]);
    expect(selectFilesToAudit(r.files, { includeYanked: true }).map((f) => f.filename)).toEqual(['feed_zeta-1.0-py3-none-any.whl']);
  });

  it('gives up on an answer that stays stale (PYTI_FEED_STALE); a removed release is PYTI_INDEX_NOT_FOUND', async () => {
    const published = await publish('feed-eta', '1.0');
    const noise = server.unyank('feed-zeta', '1.0');
    server.injectFaults({ stale: { project: 'feed-zeta', count: 10, serial: published - 3 } });
    expect(await codeOf(resolveReleaseFiles(server.url, 'feed-zeta', '1.0', { minSerial: noise, retries: 2, sleep: async () => undefined }))).toBe('PYTI_FEED_STALE');
    server.removeRelease('feed-eta', '1.0');
    expect(await codeOf(resolveReleaseFiles(server.url, 'feed-eta', '1.0', { minSerial: published, retries: 1, sleep: async () => undefined }))).toBe('PYTI_INDEX_NOT_FOUND');
    const fresh = await resolveReleaseFiles(server.url, 'feed-alpha', '1.0', {});
    expect(fresh.files.map((f) => f.filename)).toEqual(['feed_alpha-1.0-py3-none-any.whl']);
    expect(fresh.files[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
