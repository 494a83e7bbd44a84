// The Atom feeds on a real master: parsed back and checked as Atom 1.0 (required elements, absolute
// links to the audit pages, RFC 3339 times), filtered (all, flagged, project, subscription), with
// the feed token for readers that cannot send a header; hostile text stays text.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { startKitMaster, type KitMaster } from '../testing/notify-kit.js';
import { testStores } from '../testing/store-kit.js';
import { tinyReport } from '../testing/tiny-dists.js';
import { renderAtom, xmlText } from './atom-feed.js';
import { feedToken } from './feed-token.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', isArray: (name) => ['entry', 'link', 'category'].includes(name) });

/** Parses an Atom document and checks what RFC 4287 requires; returns the feed element. */
function atom(xml: string): any {
  expect(XMLValidator.validate(xml)).toBe(true);
  const feed = parser.parse(xml).feed;
  expect(feed['@xmlns']).toBe('http://www.w3.org/2005/Atom');
  for (const node of [feed, ...(feed.entry ?? [])]) {
    expect(typeof node.id).toBe('string');
    expect(node.title['#text'] ?? node.title).toBeTruthy();
    expect(node.updated).toMatch(RFC3339);
  }
  expect(feed.author.name).toBe('PyTI');
  expect(feed.link.find((l: any) => l['@rel'] === 'self')['@href']).toBe(feed.id);
  return feed;
}


const stores = testStores();

describe.each(stores.kinds)('Atom feeds on %s', (kind) => {
  const storeFlags = async () => (kind === 'postgres' ? { database: await stores.location('postgres') } : {});

describe('Atom feeds (real master)', () => {
  let k: KitMaster;
  let ids: Record<string, string>;
  beforeAll(async () => {
    k = await startKitMaster(await storeFlags(), { notifications: { everyMs: 0 } });
    ids = {
      fine: (await k.audit('Fine_Pkg', '1.0', tinyReport('Fine_Pkg', '1.0', 'clean'))).id,
      evil: (await k.audit('evil', '2.0', tinyReport('evil', '2.0', 'malicious'))).id,
      odd: (await k.audit('odd', '0.1', tinyReport('odd', '0.1', 'suspicious'))).id,
    };
  });
  afterAll(async () => k.close());

  const get = (path: string, token: string | null = null) => k.api('GET', path, undefined, token);

  it('lists every finished audit, newest first, each linking to its page', async () => {
    const res = await get(`/feeds/audits.atom?token=${feedToken('user-token-0123456789')}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/atom+xml; charset=utf-8');
    const feed = atom(res.text);
    expect(feed.id).toBe(`${k.url}/feeds/audits.atom`);
    expect(feed.entry.map((e: any) => e.id)).toEqual([ids.odd, ids.evil, ids.fine].map((id) => `${k.url}/audits/${id}`));
    const evil = feed.entry[1];
    expect(evil.link[0]).toMatchObject({ '@rel': 'alternate', '@type': 'text/html', '@href': `${k.url}/audits/${ids.evil}` });
    expect(evil.title['#text']).toBe('evil 2.0: malicious (pass)');
    expect(evil.category[0]['@term']).toBe('malicious');
    expect(evil.summary['#text']).toMatch(/^evil 2\.0: verdict malicious, score \d+, result pass, 1 finding\(s\) above info\.$/);
    // The audit page the entry links to is there.
    expect((await get(new URL(evil.link[0]['@href']).pathname, 'user-token-0123456789')).status).toBe(200);
  });

  it('filters: flagged only, one project (normalized name), one subscription', async () => {
    const flagged = atom((await get('/feeds/flagged.atom', 'user-token-0123456789')).text);
    expect(flagged.entry.map((e: any) => e.id)).toEqual([ids.odd, ids.evil].map((id) => `${k.url}/audits/${id}`));
    const project = atom((await get('/feeds/projects/fine-pkg.atom', 'user-token-0123456789')).text);
    expect(project.entry.map((e: any) => e.id)).toEqual([`${k.url}/audits/${ids.fine}`]);
    expect(project.link.find((l: any) => l['@rel'] === 'alternate')['@href']).toBe(`${k.url}/projects/fine-pkg`);
    const none = atom((await get('/feeds/projects/nothing.atom', 'user-token-0123456789')).text);
    expect(none.entry).toBeUndefined();
    expect((await k.api('POST', '/api/v1/subscriptions', { name: 'web', kind: 'projects', projects: ['flask'] })).status).toBe(201);
    const sub = atom((await get('/feeds/subscriptions/web.atom', 'user-token-0123456789')).text);
    expect(sub.entry).toBeUndefined();
    expect(sub.title['#text']).toBe('PyTI: audits of subscription web');
    expect(await get('/feeds/subscriptions/nope.atom', 'user-token-0123456789')).toMatchObject({ status: 404, body: { error: { code: 'PYTI_SUBSCRIPTION_NOT_FOUND' } } });
    expect((await get('/feeds/projects/x.rss', 'user-token-0123456789')).status).toBe(404);
  });

  it('needs the feed token, the user token or public read', async () => {
    expect(await get('/feeds/audits.atom')).toMatchObject({ status: 401, body: { error: { code: 'PYTI_AUTH' } } });
    expect((await get('/feeds/flagged.atom?token=0123456789abcdef')).status).toBe(401);
    // The user token itself is not a feed token (it must not travel in URLs).
    expect((await get('/feeds/flagged.atom?token=user-token-0123456789')).status).toBe(401);
    expect(await k.api('GET', '/api/v1/feed-token', undefined, null)).toMatchObject({ status: 401 });
    const t = await k.api('GET', '/api/v1/feed-token');
    expect(t.body.token).toBe(feedToken('user-token-0123456789'));
    expect(t.body.feeds.flagged).toBe(`${k.url}/feeds/flagged.atom?token=${t.body.token}`);
    expect((await fetch(t.body.feeds.flagged)).status).toBe(200);
    // The feed token opens the feeds only.
    expect((await get(`/api/v1/audits?token=${t.body.token}`)).status).toBe(401);
  });

  it('keeps hostile text as text: escaped, and characters XML cannot carry replaced', () => {
    const hostile = `<script>alert("x")</script> & 'q' \u0001\u0008 \ud800 ]]> end`;
    expect(xmlText(hostile)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;q&apos; \ufffd\ufffd \ufffd ]]&gt; end');
    const xml = renderAtom({
      selfUrl: 'http://127.0.0.1:1/feeds/audits.atom', htmlUrl: 'http://127.0.0.1:1/', title: hostile, publicUrl: 'http://127.0.0.1:1', now: 0,
      audits: [{ id: 'a"<1>', project: hostile, version: '1.0', filename: null, state: 'done', verdict: 'clean', score: 0, result: hostile, findings: 0, errorCode: null, finishedAt: 1_700_000_000_000 }],
    });
    const feed = atom(xml);
    // Parsed back, the title is the text itself (entities decoded), with the unencodable characters replaced.
    expect(new XMLParser({ processEntities: true }).parse(xml).feed.title).toBe(hostile.replace(/[\u0001\u0008\ud800]/g, '\ufffd'));
    expect(xml).not.toContain('<script>');
    expect(feed.entry[0].link[0]['@href']).toBe('http://127.0.0.1:1/audits/a%22%3C1%3E');
  });
});
});
