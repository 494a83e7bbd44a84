/**
 * The test index's change log and feeds, checked with real clients: Python's `xmlrpc.client` reads
 * the change log (so the wire format is the one pypi.org's Python-rendered XML-RPC has), Python's
 * `xml.etree` reads the RSS; publishing, yanking and removing show in every API, in the change log
 * and in X-PyPI-Last-Serial; injected rate limits, truncated and malformed answers and stale JSON
 * answers look to clients as on pypi.org.
 */
import { spawn, spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { requireRootfs } from '@pyti/images';
import { buildIndexFixtures, type IndexFixtures } from './index-fixtures.js';
import { startIndexServer, type IndexServer, type IndexServerOptions } from './index-server/index-server.js';
import { RATE_LIMIT_FAULT } from './index-server/xmlrpc-api.js';

let fx: IndexFixtures;
const servers: IndexServer[] = [];

beforeAll(() => {
  fx = buildIndexFixtures();
}, 600_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function start(opts: Partial<IndexServerOptions> & { files: string[] }): Promise<IndexServer> {
  const s = await startIndexServer(opts);
  servers.push(s);
  return s;
}

/** A clock that starts at a fixed instant (with milliseconds) and moves one second per reading. */
function steppingClock(startMs = Date.UTC(2024, 0, 2, 3, 4, 5, 678)): () => number {
  let now = startMs - 1000;
  return () => (now += 1000);
}

const leaf10 = (): string[] => [fx.dists['idx-leaf-1.0']!.sdist, fx.dists['idx-leaf-1.0']!.wheel];
const leaf11 = (): string[] => [fx.dists['idx-leaf-1.1']!.sdist, fx.dists['idx-leaf-1.1']!.wheel];

const hostHasPython = spawnSync('python3', ['-c', 'import xmlrpc.client, xml.etree.ElementTree'], { stdio: 'ignore' }).status === 0;

/**
 * Runs a Python script with the server's URL as argv[1] and returns what it prints as JSON. The
 * host's python3, or the guest image's in bubblewrap (sharing the host's network, so loopback).
 * Asynchronous: the index answers from this process meanwhile.
 */
async function python(script: string, url: string): Promise<unknown> {
  const argv = hostHasPython ? ['python3', '-c', script, url] : [
    'bwrap', '--unshare-user', '--unshare-pid', '--die-with-parent', '--ro-bind', requireRootfs().path, '/', '--proc', '/proc', '--dev', '/dev',
    '--tmpfs', '/tmp', '--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', 'python3', '-c', script, url,
  ];
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d));
  p.stderr.on('data', (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
  if (code !== 0) throw new Error(`python failed (${code}): ${err}`);
  return JSON.parse(out);
}

const PY_PRELUDE = `
import json, sys, xmlrpc.client
url = sys.argv[1]
client = xmlrpc.client.ServerProxy(url + '/pypi')
def attempt(f, *a):
    try:
        return {'ok': f(*a)}
    except xmlrpc.client.Fault as e:
        return {'fault': [e.faultCode, e.faultString]}
    except xmlrpc.client.ProtocolError as e:
        return {'protocol': e.errcode}
    except Exception as e:
        return {'error': type(e).__name__}
`;

describe('change log over XML-RPC, read by Python\'s xmlrpc.client', () => {
  it('records the start-up files as create / new release / add file, from serialBase, and pages changelog_since_serial', async () => {
    const clock = steppingClock();
    const s = await start({ files: [...leaf10(), fx.dists['idx-leaf-1.1']!.wheel, fx.dists['idx-app']!.sdist], serialBase: 5000, changelogPageSize: 3, clock });
    const t = (i: number): number => Math.floor(Date.UTC(2024, 0, 2, 3, 4, 5 + i) / 1000); // one clock reading per published file
    const expected = [
      ['idx-leaf', null, t(0), 'create', 5000],
      ['idx-leaf', '1.0', t(0), 'new release', 5001],
      ['idx-leaf', '1.0', t(0), 'add source file idx-leaf-1.0.tar.gz', 5002],
      ['idx-leaf', '1.0', t(1), 'add py3 file idx_leaf-1.0-py3-none-any.whl', 5003],
      ['idx-leaf', '1.1', t(2), 'new release', 5004],
      ['idx-leaf', '1.1', t(2), 'add py3 file idx_leaf-1.1-py3-none-any.whl', 5005],
      ['idx-app', null, t(3), 'create', 5006],
      ['idx-app', '1.0', t(3), 'new release', 5007],
      ['idx-app', '1.0', t(3), 'add source file idx-app-1.0.tar.gz', 5008],
    ];
    const r = await python(`${PY_PRELUDE}
pages = []
serial = 0
while True:
    page = client.changelog_since_serial(serial)
    if not page:
        break
    pages.append(page)
    serial = page[-1][4]
print(json.dumps({'last': client.changelog_last_serial(), 'pages': pages, 'from_middle': client.changelog_since_serial(5004)}))
`, s.url) as { last: number; pages: unknown[][]; from_middle: unknown[] };
    expect(r.last).toBe(5008);
    expect(r.pages.map((p) => p.length)).toEqual([3, 3, 3]);
    expect(r.pages.flat()).toEqual(expected);
    expect(r.from_middle).toEqual(expected.slice(5, 8));
    expect(s.changelog()).toEqual(expected);
    expect(s.lastSerial()).toBe(5008);
  });

  it('answers byte for byte what Python\'s own marshaller writes (nil versions included), at /pypi, /pypi/ and /RPC2', async () => {
    const s = await start({ files: leaf10() });
    s.addNoise('idx-leaf', 'add Owner caf\u00e9'); // non-ASCII action: warehouse's _clean_for_xml turns it into a literal &#233;
    const r = await python(`${PY_PRELUDE}
import urllib.request
out = {}
for path in ['/pypi', '/pypi/', '/RPC2']:
    req = urllib.request.Request(url + path, data=xmlrpc.client.dumps((0,), 'changelog_since_serial').encode(), headers={'Content-Type': 'text/xml'})
    resp = urllib.request.urlopen(req)
    raw = resp.read().decode()
    value = xmlrpc.client.loads(raw)[0][0]
    out[path] = {'same': raw == xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True), 'type': resp.headers['Content-Type'], 'value': value}
print(json.dumps(out))
`, s.url) as Record<string, { same: boolean; type: string; value: unknown[][] }>;
    for (const path of ['/pypi', '/pypi/', '/RPC2']) {
      expect([path, r[path]!.same, r[path]!.type]).toEqual([path, true, 'text/xml; charset=UTF-8']);
      expect(r[path]!.value.map((e) => [e[1], e[3]])).toEqual([
        [null, 'create'], ['1.0', 'new release'], ['1.0', 'add source file idx-leaf-1.0.tar.gz'],
        ['1.0', 'add py3 file idx_leaf-1.0-py3-none-any.whl'], [null, 'add Owner caf&#233;'],
      ]);
    }
  });

  it('answers real faults: unknown method, wrong argument type and count, multicall, a body that is not a call', async () => {
    const s = await start({ files: leaf10() });
    const r = await python(`${PY_PRELUDE}
import urllib.request
raw = urllib.request.urlopen(urllib.request.Request(url + '/pypi', data=b'<methodCall><methodName>x</methodName>', headers={'Content-Type': 'text/xml'}))
print(json.dumps([
    attempt(client.no_such_method),
    attempt(client.changelog_since_serial, 'abc'),
    attempt(client.changelog_since_serial),
    attempt(client.changelog_last_serial, 1),
    attempt(xmlrpc.client.MultiCall(client)),
    attempt(lambda: xmlrpc.client.loads(raw.read())),
    attempt(client.list_packages_with_serial),
]))
`, s.url);
    expect(r).toEqual([
      { fault: [-32601, 'server error; requested method not found'] },
      { fault: [-32602, 'client error; type of argument "serial" must be int; got str instead'] },
      { fault: [-32602, 'server error; invalid method params'] },
      { fault: [-32602, 'server error; invalid method params'] },
      { fault: [-32500, 'ValueError: MultiCall requests have been deprecated, use individual requests instead.'] },
      { fault: [-32700, 'parse error; not well formed'] },
      { ok: { 'idx-leaf': s.lastSerial() } },
    ]);
  });

  it('rate-limits the next N calls with pypi.org\'s fault, on HTTP 200 or 429, then answers again', async () => {
    const s = await start({ files: leaf10() });
    const last = s.lastSerial();
    s.injectFaults({ rateLimit: 2 });
    const script = `${PY_PRELUDE}
print(json.dumps([attempt(client.changelog_last_serial) for _ in range(3)]))
`;
    expect(await python(script, s.url)).toEqual([{ fault: [-32500, RATE_LIMIT_FAULT] }, { fault: [-32500, RATE_LIMIT_FAULT] }, { ok: last }]);
    s.injectFaults({ rateLimit: 1, rateLimitHttpStatus: 429, rateLimitResetSeconds: 7 });
    expect(await python(script, s.url)).toEqual([{ protocol: 429 }, { ok: last }, { ok: last }]);
    const r = await fetch(`${s.url}/pypi`, { method: 'POST', body: '<?xml version="1.0"?><methodCall><methodName>changelog_last_serial</methodName></methodCall>' });
    expect(r.status).toBe(200);
    s.injectFaults({ rateLimit: 1, rateLimitHttpStatus: 200 });
    const limited = await (await fetch(`${s.url}/RPC2`, { method: 'POST', body: '<methodCall><methodName>changelog_last_serial</methodName><params></params></methodCall>' })).text();
    expect(limited).toContain(`<value><string>${RATE_LIMIT_FAULT} Limit may reset in 7 seconds.</string></value>`);
    expect(s.pendingFaults()).toMatchObject({ rateLimit: 0 });
  });

  it('cuts the next answer mid-body (truncate) or sends not-well-formed XML (malformed); the call after is whole', async () => {
    const s = await start({ files: leaf10() });
    s.injectFaults({ malformed: 1, truncate: 1 });
    const r = await python(`${PY_PRELUDE}
import urllib.request
def raw():
    resp = urllib.request.urlopen(urllib.request.Request(url + '/pypi', data=xmlrpc.client.dumps((0,), 'changelog_since_serial').encode()))
    body = resp.read()
    return [len(body) == int(resp.headers['Content-Length']), attempt(xmlrpc.client.loads, body)]
print(json.dumps([attempt(raw), attempt(raw), attempt(client.changelog_since_serial, 0)]))
`, s.url) as Record<string, unknown>[];
    // malformed first: the whole announced body arrives, and it is half an XML document
    expect(r[0]).toEqual({ ok: [true, { error: 'ExpatError' }] });
    // truncated: the connection ends before Content-Length is satisfied
    expect(r[1]).toEqual({ error: 'IncompleteRead' });
    expect((r[2]!.ok as unknown[]).length).toBe(4);
    // xmlrpc.client itself reads in chunks and only notices a truncated answer as unparsable XML.
    s.injectFaults({ truncate: 1 });
    expect(await python(`${PY_PRELUDE}
print(json.dumps(attempt(client.changelog_since_serial, 0)))
`, s.url)).toEqual({ error: 'ExpatError' });
    s.injectFaults({ truncate: 1 });
    const cut = await fetch(`${s.url}/pypi`, { method: 'POST', body: '<methodCall><methodName>changelog_last_serial</methodName></methodCall>' });
    await expect(cut.text()).rejects.toThrow(/terminated/);
  });
});

/** What Python's xml.etree makes of a feed: the root, the channel's fields and each item's children (tag, text). */
const PY_RSS = `
import json, sys, urllib.request, email.utils
import xml.etree.ElementTree as ET
out = {}
for feed in ['updates', 'packages']:
    resp = urllib.request.urlopen(sys.argv[1] + '/rss/' + feed + '.xml')
    root = ET.fromstring(resp.read())
    channel = root.find('channel')
    out[feed] = {
        'type': resp.headers['Content-Type'],
        'root': [root.tag, root.get('version'), [c.tag for c in root]],
        'channel': [[c.tag, c.text] for c in channel if c.tag != 'item'],
        'items': [[[c.tag, c.text] for c in item] for item in channel.findall('item')],
        'times': [int(email.utils.parsedate_to_datetime(i.find('pubDate').text).timestamp()) for i in channel.findall('item')],
    }
print(json.dumps(out))
`;

type Feed = { type: string; root: unknown[]; channel: string[][]; items: string[][][]; times: number[] };

describe('RSS feeds, read by Python\'s xml.etree', () => {
  it('lists releases newest first as pypi.org\'s updates.xml and projects as packages.xml, limited to rssItems', async () => {
    const t0 = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
    const s = await start({ files: [...fx.buildRequirements, fx.dists['idx-leaf-1.0']!.wheel, fx.dists['idx-leaf-1.1']!.wheel, fx.dists['idx-app']!.wheel], rssItems: 3, clock: steppingClock(t0) });
    const r = await python(PY_RSS, s.url) as { updates: Feed; packages: Feed };
    const sec = (i: number): number => Math.floor(t0 / 1000) + i;
    const date = (i: number): string => new Date(sec(i) * 1000).toUTCString(); // RFC 822 with GMT, as formatdate(usegmt=True)
    expect(r.updates.type).toBe('text/xml; charset=UTF-8');
    expect(r.updates.root).toEqual(['rss', '0.91', ['channel']]);
    expect(r.updates.channel).toEqual([['title', 'PyPI recent updates'], ['link', `${s.url}/`], ['description', 'Recent updates to the Python Package Index'], ['language', 'en']]);
    const leafSummary = 'Test index fixture: a pure-Python leaf package without dependencies';
    expect(r.updates.items).toEqual([
      [['title', 'idx-app 1.0'], ['link', `${s.url}/project/idx-app/1.0/`], ['description', 'Test index fixture: an application that depends on idx-leaf from the index'], ['pubDate', date(4)]],
      [['title', 'idx-leaf 1.1'], ['link', `${s.url}/project/idx-leaf/1.1/`], ['description', leafSummary], ['pubDate', date(3)]],
      [['title', 'idx-leaf 1.0'], ['link', `${s.url}/project/idx-leaf/1.0/`], ['description', leafSummary], ['pubDate', date(2)]],
    ]);
    expect(r.updates.times).toEqual([sec(4), sec(3), sec(2)]);
    expect(r.packages.channel[0]).toEqual(['title', 'PyPI newest packages']);
    expect(r.packages.items.map((i) => i.map(([tag]) => tag))).toEqual(Array(3).fill(['title', 'link', 'guid', 'description', 'pubDate']));
    expect(r.packages.items.map((i) => [i[0]![1], i[1]![1], i[2]![1]])).toEqual([
      ['idx-app added to PyPI', `${s.url}/project/idx-app/`, `${s.url}/project/idx-app/`],
      ['idx-leaf added to PyPI', `${s.url}/project/idx-leaf/`, `${s.url}/project/idx-leaf/`],
      ['wheel added to PyPI', `${s.url}/project/wheel/`, `${s.url}/project/wheel/`],
    ]);
    expect(r.packages.items[1]![3]).toEqual(['description', leafSummary]);
    expect(r.packages.times).toEqual([sec(4), sec(2), sec(1)]);
  });

  it('drops removed releases and serves truncated or malformed feeds on request', async () => {
    const s = await start({ files: [...leaf10(), ...leaf11()] });
    s.removeRelease('idx-leaf', '1.1');
    const titles = async (): Promise<string[]> => [...(await (await fetch(`${s.url}/rss/updates.xml`)).text()).matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]!);
    expect(await titles()).toEqual(['PyPI recent updates', 'idx-leaf 1.0']);
    s.injectFaults({ rssMalformed: 1, rssTruncate: 1 });
    const r = await python(`
import json, sys, urllib.request
import xml.etree.ElementTree as ET
out = []
for _ in range(3):
    try:
        ET.fromstring(urllib.request.urlopen(sys.argv[1] + '/rss/updates.xml').read())
        out.append('ok')
    except Exception as e:
        out.append(type(e).__name__)
print(json.dumps(out))
`, s.url);
    expect(r).toEqual(['ParseError', 'IncompleteRead', 'ok']);
  });
});

describe('publishing, yanking and removing while running', () => {
  type Url = { filename: string; yanked: boolean; yanked_reason: string | null; url: string };
  type Doc = { info: { version: string; yanked: boolean; yanked_reason: string | null }; urls: Url[]; releases: Record<string, Url[]>; last_serial: number };
  const doc = async (s: IndexServer, path = '/pypi/idx-leaf/json'): Promise<{ status: number; serial: string | null; body: Doc }> => {
    const r = await fetch(s.url + path);
    return { status: r.status, serial: r.headers.get('x-pypi-last-serial'), body: await r.json() as Doc };
  };
  const simpleJson = async (s: IndexServer, project = 'idx-leaf'): Promise<{ status: number; serial: string | null; files: { filename: string; yanked: unknown }[] }> => {
    const r = await fetch(`${s.url}/simple/${project}/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } });
    return { status: r.status, serial: r.headers.get('x-pypi-last-serial'), files: r.status === 200 ? ((await r.json()) as { files: { filename: string; yanked: unknown }[] }).files : [] };
  };
  const simpleHtml = async (s: IndexServer, project = 'idx-leaf'): Promise<string> => (await fetch(`${s.url}/simple/${project}/`)).text();
  const since = (s: IndexServer, serial: number): [string, string | null, string][] => s.changelog().filter((e) => e[4] > serial).map((e) => [e[0], e[1], e[3]]);

  it('publishes a new release: change log, Simple and JSON APIs and X-PyPI-Last-Serial follow', async () => {
    const s = await start({ files: leaf10() });
    const before = s.lastSerial()!;
    const serial = await s.publish(fx.dists['idx-leaf-1.1']!.wheel);
    expect(serial).toBe(before + 2);
    expect(since(s, before)).toEqual([['idx-leaf', '1.1', 'new release'], ['idx-leaf', '1.1', 'add py3 file idx_leaf-1.1-py3-none-any.whl']]);
    const d = await doc(s);
    expect([d.status, d.serial, d.body.last_serial, d.body.info.version]).toEqual([200, String(serial), serial, '1.1']);
    const simple = await simpleJson(s);
    expect(simple.serial).toBe(String(serial));
    expect(simple.files.map((f) => f.filename)).toContain('idx_leaf-1.1-py3-none-any.whl');
    expect((await fetch(`${s.url}/simple/`)).headers.get('x-pypi-last-serial')).toBe(String(serial));
    // Another project's upload moves the index's serial, not this project's.
    const appSerial = await s.publish(fx.dists['idx-app']!.wheel);
    expect((await fetch(`${s.url}/simple/`)).headers.get('x-pypi-last-serial')).toBe(String(appSerial));
    expect((await doc(s)).serial).toBe(String(serial));
    expect((await doc(s, '/pypi/idx-leaf/1.0/json')).serial).toBe(String(serial));
    expect((await simpleJson(s)).serial).toBe(String(serial));
    expect(since(s, serial).map((e) => e[2])).toEqual(['create', 'new release', 'add py3 file idx_app-1.0-py3-none-any.whl']);
    // pypi.org never takes a filename twice.
    await expect(s.publish(fx.dists['idx-leaf-1.1']!.wheel)).rejects.toThrow(/idx_leaf-1\.1-py3-none-any\.whl has already been used/);
  });

  it('yanks and un-yanks: files stay, marked yanked in every API, and the latest version moves', async () => {
    const s = await start({ files: [...leaf10(), ...leaf11()] });
    const serial = s.yank('IDX_Leaf', '1.1', 'broken "metadata" & more');
    expect(s.changelog().pop()).toEqual(['idx-leaf', '1.1', expect.any(Number), 'yank release', serial]);
    const d = await doc(s);
    expect(d.body.info).toMatchObject({ version: '1.0', yanked: false, yanked_reason: null });
    expect(d.body.releases['1.1']!.map((u) => [u.yanked, u.yanked_reason])).toEqual([[true, 'broken "metadata" & more'], [true, 'broken "metadata" & more']]);
    expect((await doc(s, '/pypi/idx-leaf/1.1/json')).body.info).toMatchObject({ version: '1.1', yanked: true, yanked_reason: 'broken "metadata" & more' });
    const simple = await simpleJson(s);
    expect(simple.files.map((f) => [f.filename, f.yanked]).sort()).toEqual([
      ['idx-leaf-1.0.tar.gz', false], ['idx-leaf-1.1.tar.gz', 'broken "metadata" & more'],
      ['idx_leaf-1.0-py3-none-any.whl', false], ['idx_leaf-1.1-py3-none-any.whl', 'broken "metadata" & more'],
    ]);
    expect(await simpleHtml(s)).toContain('data-requires-python="&gt;=3.8" data-yanked="broken &quot;metadata&quot; &amp; more">idx_leaf-1.1-py3-none-any.whl</a>');
    expect((await fetch(d.body.releases['1.1']![0]!.url)).status).toBe(200); // yanked files can still be downloaded
    s.unyank('idx-leaf', '1.1');
    expect((await doc(s)).body.info).toMatchObject({ version: '1.1', yanked: false });
    expect((await simpleJson(s)).files.every((f) => f.yanked === false)).toBe(true);
    s.yank('idx-leaf', '1.1');
    expect((await simpleJson(s)).files.filter((f) => f.yanked === true)).toHaveLength(2); // no reason: "yanked": true
    expect(await simpleHtml(s)).toContain('data-yanked="">idx-leaf-1.1.tar.gz</a>');
    expect(() => s.yank('idx-leaf', '1.1')).toThrow(/already yanked/);
    expect(() => s.unyank('idx-leaf', '1.0')).toThrow(/not yanked/);
    expect(since(s, serial).map((e) => e[2])).toEqual(['unyank release', 'yank release']);
  });

  it('removes a file, a release and a project from every API; noise only moves the serial', async () => {
    const s = await start({ files: [...leaf10(), ...leaf11(), fx.dists['idx-app']!.wheel] });
    const start0 = s.lastSerial()!;
    const sdist10 = basename(fx.dists['idx-leaf-1.0']!.sdist);
    const sdistUrl = (await doc(s)).body.releases['1.0']!.find((u) => u.filename === sdist10)!.url;
    s.removeFile(sdist10);
    expect((await simpleJson(s)).files.map((f) => f.filename)).not.toContain(sdist10);
    expect(await simpleHtml(s)).not.toContain(sdist10);
    expect((await doc(s)).body.releases['1.0']!.map((u) => u.filename)).toEqual(['idx_leaf-1.0-py3-none-any.whl']);
    expect((await fetch(sdistUrl)).status).toBe(404);
    s.removeFile('idx_leaf-1.0-py3-none-any.whl'); // the release stays, without files
    expect((await doc(s)).body.releases['1.0']).toEqual([]);
    expect((await doc(s, '/pypi/idx-leaf/1.0/json')).body.urls).toEqual([]);
    const noise = s.addNoise('idx-leaf', 'add Owner alice');
    expect((await doc(s)).serial).toBe(String(noise));
    s.removeRelease('idx-leaf', '1.1');
    expect(Object.keys((await doc(s)).body.releases)).toEqual(['1.0']);
    expect((await doc(s, '/pypi/idx-leaf/1.1/json')).status).toBe(404);
    expect((await simpleJson(s)).files).toEqual([]);
    s.removeProject('idx-leaf');
    expect((await fetch(`${s.url}/simple/idx-leaf/`)).status).toBe(404);
    expect((await doc(s)).status).toBe(404);
    expect(await (await fetch(`${s.url}/simple/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).json()).toMatchObject({ projects: [{ name: 'idx-app' }] });
    expect(since(s, start0)).toEqual([
      ['idx-leaf', '1.0', `remove file ${sdist10}`], ['idx-leaf', '1.0', 'remove file idx_leaf-1.0-py3-none-any.whl'],
      ['idx-leaf', null, 'add Owner alice'], ['idx-leaf', '1.1', 'remove release'], ['idx-leaf', null, 'remove project'],
    ]);
    expect(() => s.removeProject('idx-leaf')).toThrow(/no project "idx-leaf"/);
    expect(() => s.removeFile('idx-app-9.tar.gz')).toThrow(/no file/);
    // A removed project's filenames stay used.
    await expect(s.publish(fx.dists['idx-leaf-1.1']!.sdist)).rejects.toThrow(/already been used/);
  });
});

describe('stale JSON API answers (fault injection)', () => {
  it('serves the project as it was before its newest file for the next N answers, with the older serial', async () => {
    const s = await start({ files: leaf10() });
    const old = s.lastSerial()!;
    const serial = await s.publish(fx.dists['idx-leaf-1.1']!.wheel);
    s.injectFaults({ stale: { project: 'IDX.leaf', count: 2 } });
    expect(s.pendingFaults().stale).toEqual([{ project: 'idx-leaf', count: 2 }]);
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${s.url}/pypi/idx-leaf/json`);
      const d = await r.json() as { info: { version: string }; last_serial: number; releases: Record<string, unknown> };
      expect([r.headers.get('x-pypi-last-serial'), d.last_serial, d.info.version, Object.keys(d.releases)]).toEqual([String(old), old, '1.0', ['1.0']]);
    }
    const fresh = await fetch(`${s.url}/pypi/idx-leaf/json`);
    expect([fresh.headers.get('x-pypi-last-serial'), ((await fresh.json()) as { info: { version: string } }).info.version]).toEqual([String(serial), '1.1']);
    // An explicit serial; a release that did not exist then answers 404, as does a project.
    s.injectFaults({ stale: { project: 'idx-leaf', count: 2, serial: old } });
    expect((await fetch(`${s.url}/pypi/idx-leaf/1.1/json`)).status).toBe(404);
    expect((await fetch(`${s.url}/pypi/idx-leaf/1.0/json`)).headers.get('x-pypi-last-serial')).toBe(String(old));
    const appSerial = await s.publish(fx.dists['idx-app']!.sdist);
    s.injectFaults({ stale: { project: 'idx-app', count: 1 } });
    expect((await fetch(`${s.url}/pypi/idx-app/json`)).status).toBe(404);
    expect((await fetch(`${s.url}/pypi/idx-app/json`)).headers.get('x-pypi-last-serial')).toBe(String(appSerial));
  });
});

describe('index server process: test-only endpoints', () => {
  const main = new URL('../dist/index-server/main.js', import.meta.url).pathname;

  it('takes feed options, publishes and injects faults over HTTP', async () => {
    const p = spawn(process.execPath, [main, '--serial-base', '70', '--changelog-page-size', '2', '--rss-items', '1', fx.dists['idx-leaf-1.0']!.wheel], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        p.stdout.on('data', (d: Buffer) => {
          buf += d;
          if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
        });
        p.on('close', () => reject(new Error('index server exited early')));
      });
      const { url, lastSerial } = JSON.parse(line) as { url: string; lastSerial: number };
      expect(lastSerial).toBe(72);
      const post = async (path: string, body: unknown): Promise<[number, Record<string, unknown>]> => {
        const r = await fetch(url + path, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
        return [r.status, await r.json() as Record<string, unknown>];
      };
      expect(await post('/-/publish', { path: fx.dists['idx-leaf-1.1']!.sdist })).toEqual([200, { serial: 74 }]);
      expect(await post('/-/yank', { name: 'idx-leaf', version: '1.0', reason: 'old' })).toEqual([200, { serial: 75 }]);
      expect(await post('/-/noise', { name: 'idx-leaf', action: 'update classifiers', version: '1.1' })).toEqual([200, { serial: 76 }]);
      expect(await post('/-/remove-release', { name: 'idx-leaf', version: '9' })).toEqual([400, { error: 'test index: no release idx-leaf 9' }]);
      expect(await post('/-/publish', {})).toEqual([400, { error: '"path" must be a non-empty string' }]);
      expect((await post('/-/faults', { rateLimit: 1 }))[1]).toMatchObject({ rateLimit: 1 });
      const r = await python(`${PY_PRELUDE}
print(json.dumps([attempt(client.changelog_since_serial, 72), attempt(client.changelog_since_serial, 72)]))
`, url);
      expect(r).toEqual([{ fault: [-32500, RATE_LIMIT_FAULT] }, { ok: [['idx-leaf', '1.1', expect.any(Number), 'new release', 73], ['idx-leaf', '1.1', expect.any(Number), 'add source file idx-leaf-1.1.tar.gz', 74]] }]);
      const rss = await (await fetch(`${url}/rss/updates.xml`)).text();
      expect([...rss.matchAll(/<item>/g)]).toHaveLength(1);
      expect(((await (await fetch(`${url}/-/requests`)).json()) as { path: string }[]).map((q) => q.path)).toEqual(['/pypi', '/pypi', '/rss/updates.xml']);
    } finally {
      p.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
