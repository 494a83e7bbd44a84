import { readFileSync } from 'node:fs';
import { PytiError } from '@pyti/vm-agent';
import type { FeedItem } from './feed-types.js';
import { parseRfc822Date, parseRssPackages, parseRssUpdates } from './rss.js';
import { diffRssItems, emptyRssState, RssWatcher } from './rss-watcher.js';

const fixture = (n: string): string => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof PytiError ? err.code : `not a PytiError: ${String(err)}`;
  }
  return undefined;
}

describe('RSS parsers', () => {
  it('parses /rss/updates.xml (DOCTYPE, no guid, same-second items)', () => {
    const items = parseRssUpdates(fixture('rss-updates.xml'));
    expect(items).toEqual([
      { name: 'Flask-Widgets', normalized: 'flask-widgets', version: '0.1.0', publishedMs: Date.UTC(2024, 5, 1, 12, 0, 2), link: 'https://pypi.org/project/flask-widgets/0.1.0/' },
      { name: 'numpy', normalized: 'numpy', version: '2.0.0', publishedMs: Date.UTC(2024, 5, 1, 12, 0, 2), link: 'https://pypi.org/project/numpy/2.0.0/' },
      { name: 'zope.interface', normalized: 'zope-interface', version: '6.4.post2', publishedMs: Date.UTC(2024, 5, 1, 11, 59, 58), link: 'https://pypi.org/project/zope-interface/6.4.post2/' },
    ]);
  });

  it('parses /rss/packages.xml', () => {
    expect(parseRssPackages(fixture('rss-packages.xml')).map((i) => [i.name, i.normalized, i.version, new Date(i.publishedMs).toISOString()])).toEqual([
      ['Flask-Widgets', 'flask-widgets', null, '2024-06-01T12:00:00.000Z'],
      ['tiny_thing', 'tiny-thing', null, '2024-06-01T11:58:30.000Z'],
    ]);
    expect(codeOf(() => parseRssPackages(fixture('rss-updates.xml')))).toBe('PYTI_FEED_MALFORMED');
  });

  it('reads RFC 822 dates', () => {
    expect(parseRfc822Date('Sat, 01 Jun 2024 12:00:02 GMT')).toBe(Date.UTC(2024, 5, 1, 12, 0, 2));
    expect(parseRfc822Date('1 Jun 2024 14:00 +0200')).toBe(Date.UTC(2024, 5, 1, 12, 0, 0));
    expect(parseRfc822Date('Sat, 01 Jun 2024 05:00:00 PDT')).toBe(Date.UTC(2024, 5, 1, 12, 0, 0));
    for (const bad of ['2024-06-01T12:00:00Z', 'Sat, 31 Feb 2024 12:00:00 GMT', 'Sat, 01 Jun 2024 25:00:00 GMT', 'Sat, 01 Foo 2024 12:00:00 GMT', '']) expect(parseRfc822Date(bad)).toBeUndefined();
  });

  it('refuses malformed feeds with PYTI_FEED_MALFORMED', () => {
    const good = fixture('rss-updates.xml');
    const bad = [
      good.slice(0, good.length - 40), // truncated
      good.replace('<pubDate>Sat, 01 Jun 2024 12:00:02 GMT</pubDate>', '<pubDate>yesterday</pubDate>'),
      good.replace('<title>numpy 2.0.0</title>', '<title>numpy</title>'),
      good.replace('<title>numpy 2.0.0</title>', '<title>../etc 2.0.0</title>'),
      good.replace('<link>https://pypi.org/project/numpy/2.0.0/</link>', '<link>javascript:alert(1)</link>'),
      good.replace('<link>https://pypi.org/project/numpy/2.0.0/</link>', ''),
      good.replace('Recent updates', 'Recent &nbsp; updates'),
      good.replace('<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://www.rssboard.org/rss-0.91.dtd">', '<!DOCTYPE rss [<!ENTITY x "xxxxxxxx">]>'),
      good.replace('<rss version="0.91">', '<feed>').replace('</rss>', '</feed>'),
      '<html><body>Service Unavailable</body></html>',
      '',
    ];
    for (const b of bad) expect(codeOf(() => parseRssUpdates(b))).toBe('PYTI_FEED_MALFORMED');
  });
});

const item = (name: string, version: string, sec: number): FeedItem => ({ name, normalized: name.toLowerCase(), version, publishedMs: sec * 1000, link: `https://pypi.example/project/${name}/${version}/` });

describe('RSS watcher', () => {
  it('returns everything on the first poll, then only new (name, version) pairs, also within the same second', () => {
    const first = diffRssItems([item('b', '1', 10), item('a', '1', 9)], emptyRssState());
    expect(first.items.map((i) => i.name)).toEqual(['b', 'a']);
    expect(first.gap).toBe(false);
    expect(first.state.newest).toEqual({ publishedMs: 10_000, normalized: 'b', version: '1' });
    // c and d were published in the same second as b: deduplication is by name and version, not time.
    const second = diffRssItems([item('d', '1', 10), item('c', '1', 10), item('b', '1', 10), item('a', '1', 9)], first.state);
    expect(second.items.map((i) => i.name)).toEqual(['d', 'c']);
    expect(second.gap).toBe(false);
    const again = diffRssItems([item('d', '1', 10), item('c', '1', 10), item('B', '1', 10)], second.state);
    expect(again.items).toEqual([]);
    expect(again.gap).toBe(false);
    // A new version of a seen project is new.
    expect(diffRssItems([item('a', '2', 11), item('d', '1', 10)], again.state).items.map((i) => `${i.name} ${i.version}`)).toEqual(['a 2']);
  });

  it('flags a gap when the newest seen item fell off the feed and the oldest item is not older', () => {
    const seen = diffRssItems([item('a', '1', 10)], emptyRssState()).state;
    const gap = diffRssItems([item('z', '1', 12), item('y', '1', 11)], seen);
    expect(gap.gap).toBe(true);
    expect(gap.items.map((i) => i.name)).toEqual(['z', 'y']);
    // Same second as the newest seen, which is gone: may have missed items of that second too.
    expect(diffRssItems([item('x', '1', 10)], seen).gap).toBe(true);
    // The newest seen is still in the feed: nothing can be missing between.
    expect(diffRssItems([item('z', '1', 12), item('a', '1', 10)], seen).gap).toBe(false);
    // The oldest item is older than the newest seen: the feed overlaps (the newest seen was removed).
    expect(diffRssItems([item('z', '1', 12), item('w', '1', 9)], seen).gap).toBe(false);
    expect(diffRssItems([], seen).gap).toBe(false);
  });

  it('keeps the remembered keys bounded, oldest dropped first', () => {
    let state = emptyRssState();
    for (let i = 0; i < 10; i++) state = diffRssItems([item(`p${i}`, '1', i)], state, 4).state;
    expect(state.recent).toEqual(['p6 1', 'p7 1', 'p8 1', 'p9 1']);
  });

  it('polls a feed over HTTP and maps failures to codes', async () => {
    const w = (body: string, status = 200): RssWatcher => new RssWatcher({ url: 'https://pypi.example/rss/updates.xml', kind: 'updates', fetch: (async () => new Response(body, { status })) as typeof fetch });
    const poll = await w(fixture('rss-updates.xml')).poll();
    expect(poll.items).toHaveLength(3);
    expect(poll.gap).toBe(false);
    const again = await w(fixture('rss-updates.xml')).poll(poll.state);
    expect(again.items).toEqual([]);
    let code: string | undefined;
    await w('<rss><channel><item>').poll(poll.state).catch((e: PytiError) => (code = e.code));
    expect(code).toBe('PYTI_FEED_MALFORMED');
    await w('', 503).poll().catch((e: PytiError) => (code = e.code));
    expect(code).toBe('PYTI_INDEX_UNREACHABLE');
    await w('', 429).poll().catch((e: PytiError) => (code = e.code));
    expect(code).toBe('PYTI_FEED_RATE_LIMITED');
  });
});
