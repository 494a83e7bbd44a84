/**
 * PyPI's RSS feeds, parsed (warehouse `templates/rss/base.xml`, `updates.xml`, `packages.xml`): RSS
 * 0.91 with an external DOCTYPE, `<item>`s newest first, each with `<title>`, `<link>`, `<pubDate>`
 * (RFC 822, one-second resolution) and no guid in `updates.xml`:
 * - `/rss/updates.xml`: the latest 100 releases, title `<name> <version>`;
 * - `/rss/packages.xml`: the newest 40 projects, title `<name> added to PyPI`.
 * Pure functions; a feed that is not well-formed or not this shape is `PYTI_FEED_MALFORMED`.
 */
import { PytiError } from '@pyti/vm-agent';
import { PROJECT_NAME, VERSION_TEXT } from '@pyti/common';
import type { FeedItem } from './feed-types.js';
import { normalizeName } from './pep.js';
import { elementChildren, parseXml, textOf, type XmlElement } from './xml-tree.js';

/** Largest feed accepted (PyPI's are about 30 kB). */
export const MAX_RSS_CHARS = 4 * 1024 * 1024;
const MAX_ITEMS = 10_000;

function malformed(what: string, why: string): PytiError {
  return new PytiError('PYTI_FEED_MALFORMED', `${what}: ${why}`);
}

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };
const ZONES: Record<string, number> = { GMT: 0, UT: 0, UTC: 0, Z: 0, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420 };
const RFC822 = /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s*)?(\d{1,2})\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{4})\s+(\d{2}):(\d{2})(?::(\d{2}))?\s+(GMT|UTC?|Z|[ECMP][SD]T|[+-]\d{4})$/;

/** An RFC 822 date (`Mon, 01 Jan 2024 12:00:00 GMT`, `… +0200`) as ms since the epoch, or undefined. */
export function parseRfc822Date(text: string): number | undefined {
  const m = RFC822.exec(text.trim());
  if (!m) return undefined;
  const [, d, mon, y, hh, mm, ss, zone] = m;
  if (+hh! > 23 || +mm! > 59 || +(ss ?? 0) > 60) return undefined;
  const offsetMin = /^[+-]/.test(zone!) ? (zone![0] === '-' ? -1 : 1) * (+zone!.slice(1, 3) * 60 + +zone!.slice(3, 5)) : ZONES[zone!]!;
  const t = Date.UTC(+y!, MONTHS[mon!]!, +d!, +hh!, +mm!, +(ss ?? 0));
  if (new Date(t).getUTCDate() !== +d!) return undefined;
  return t - offsetMin * 60_000;
}

function child(item: XmlElement, name: string, what: string, i: number): string {
  const found = elementChildren(item, what).filter((c) => c.name === name);
  if (found.length !== 1) throw malformed(what, `item ${i} has ${found.length === 0 ? 'no' : 'more than one'} <${name}>`);
  const s = textOf(found[0]!, what).trim();
  if (s.length > 2000) throw malformed(what, `item ${i}: <${name}> is longer than 2000 characters`);
  return s;
}

function items(xml: string, what: string): XmlElement[] {
  const root = parseXml(xml, { maxChars: MAX_RSS_CHARS, what, allowDoctype: true, maxDepth: 16, maxElements: 200_000 });
  if (root.name !== 'rss') throw malformed(what, `the root element is <${root.name}>, not <rss>`);
  const channels = elementChildren(root, what).filter((c) => c.name === 'channel');
  if (channels.length !== 1) throw malformed(what, '<rss> must hold one <channel>');
  const out = elementChildren(channels[0]!, what).filter((c) => c.name === 'item');
  if (out.length > MAX_ITEMS) throw malformed(what, `more than ${MAX_ITEMS} items`);
  return out;
}

function parseItem(item: XmlElement, i: number, what: string, title: (t: string) => { name: string; version: string | null } | undefined): FeedItem {
  const t = child(item, 'title', what, i);
  const parsed = title(t.replace(/\s+/g, ' '));
  if (!parsed || !PROJECT_NAME.test(parsed.name) || parsed.name.length > 200 || (parsed.version !== null && !VERSION_TEXT.test(parsed.version))) {
    throw malformed(what, `item ${i}: title ${JSON.stringify(t.slice(0, 100))} is not the expected form`);
  }
  const link = child(item, 'link', what, i);
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    throw malformed(what, `item ${i}: link ${JSON.stringify(link.slice(0, 100))} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw malformed(what, `item ${i}: link is not http or https`);
  const date = child(item, 'pubDate', what, i);
  const publishedMs = parseRfc822Date(date);
  if (publishedMs === undefined) throw malformed(what, `item ${i}: pubDate ${JSON.stringify(date.slice(0, 60))} is not an RFC 822 date`);
  return { name: parsed.name, normalized: normalizeName(parsed.name), version: parsed.version, publishedMs, link: url.toString() };
}

/** Parses `/rss/updates.xml`: one item per release, title `<name> <version>`, newest first. */
export function parseRssUpdates(xml: string): FeedItem[] {
  const what = 'RSS updates feed';
  return items(xml, what).map((it, i) =>
    parseItem(it, i, what, (t) => {
      const parts = t.split(' ');
      return parts.length === 2 ? { name: parts[0]!, version: parts[1]! } : undefined;
    }),
  );
}

/** Parses `/rss/packages.xml`: one item per new project, title `<name> added to PyPI`, version null. */
export function parseRssPackages(xml: string): FeedItem[] {
  const what = 'RSS packages feed';
  return items(xml, what).map((it, i) =>
    parseItem(it, i, what, (t) => {
      const m = /^(\S+) added to PyPI$/.exec(t);
      return m ? { name: m[1]!, version: null } : undefined;
    }),
  );
}
