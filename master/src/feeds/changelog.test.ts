import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PytiError } from '@pyti/vm-agent';
import { ChangelogReader, checkChangelog, classifyAction, parseChangelog } from './changelog.js';
import { FeedRateLimitedError } from './xmlrpc-client.js';
import { decodeMethodResponse, type XmlRpcValue } from './xmlrpc-codec.js';

const fixture = (n: string): string => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8');

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return err instanceof PytiError ? err.code : `not a PytiError: ${String(err)}`;
  }
  return undefined;
}

/** A change-log answer as Python's marshaller writes it. */
function pyAnswer(entries: unknown[]): string {
  return execFileSync('python3', ['-c', 'import sys, json, xmlrpc.client as x; print(x.dumps((json.load(sys.stdin),), methodresponse=True, allow_none=True))'], { input: JSON.stringify(entries), encoding: 'utf8' });
}

describe('parseChangelog', () => {
  it('classifies every action kind of a real page', () => {
    const events = parseChangelog(decodeMethodResponse(fixture('changelog-page.xml')));
    expect(events.map((e) => [e.serial, e.kind, e.filename ?? null])).toEqual([
      [23400001, 'create-project', null],
      [23400002, 'other', null],
      [23400003, 'new-release', null],
      [23400004, 'add-file', 'flask_widgets-0.1.0.tar.gz'],
      [23400005, 'add-file', 'flask_widgets-0.1.0-py3-none-any.whl'],
      [23400006, 'add-file', 'numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'],
      [23400007, 'remove-file', 'old.pkg-1.2.zip'],
      [23400008, 'remove-release', null],
      [23400009, 'yank-release', null],
      [23400010, 'unyank-release', null],
      [23400011, 'remove-project', null],
      [23400012, 'other', null],
      [23400013, 'other', null], // "café & <co>" is no project name: kept, ignored
    ]);
    expect(events[2]).toEqual({ name: 'Flask-Widgets', normalized: 'flask-widgets', version: '0.1.0', timestamp: 1717243201, action: 'new release', kind: 'new-release', serial: 23400003 });
    expect(events[0]!.version).toBeNull();
    expect(events[6]!.normalized).toBe('old-pkg');
  });

  it('classifies action texts', () => {
    expect(classifyAction('add source file foo-1.0.tar.gz')).toEqual({ kind: 'add-file', filename: 'foo-1.0.tar.gz' });
    expect(classifyAction('add 3.12 file foo-1.0-py3-none-any.whl')).toEqual({ kind: 'add-file', filename: 'foo-1.0-py3-none-any.whl' });
    expect(classifyAction('add source file ../../etc/passwd')).toEqual({ kind: 'other' });
    expect(classifyAction('remove file a/b.tar.gz')).toEqual({ kind: 'other' });
    expect(classifyAction('docupdate')).toEqual({ kind: 'other' });
    expect(classifyAction('rename from old-name')).toEqual({ kind: 'other' });
  });

  it('refuses pages that are not the expected shape, as a whole', async () => {
    const ok = ['foo', '1.0', 1, 'new release', 10];
    const bad: unknown[] = [
      'not an array',
      [ok.slice(0, 4)],
      [['foo', '1.0', 1, 'new release', '10']],
      [['foo', 1.0, 1, 'new release', 10]],
      [['', '1.0', 1, 'new release', 10]],
      [['foo', '1.0', -1, 'new release', 10]],
      [['foo', '1.0', 1.5, 'new release', 10]],
      [['foo', '1.0', 1, 'x'.repeat(1001), 10]],
      [['f'.repeat(1001), '1.0', 1, 'new release', 10]],
      [ok, ['foo', '1.0', 2, 'new release', 10]], // not ascending
      [ok, ['foo', '1.0', 2, 'new release', 9]],
    ];
    for (const b of bad) expect(await codeOf(() => parseChangelog(b as XmlRpcValue))).toBe('PYTI_FEED_MALFORMED');
    expect(await codeOf(() => parseChangelog([ok] as XmlRpcValue, { after: 10 }))).toBe('PYTI_FEED_MALFORMED');
    expect(parseChangelog([ok] as XmlRpcValue, { after: 9 })).toHaveLength(1);
    expect(parseChangelog([])).toEqual([]);
  });
});

/** A scripted XML-RPC endpoint: each call takes the next answer. */
function scripted(answers: Array<Response | (() => Response)>): { fetch: typeof fetch; bodies: string[] } {
  const bodies: string[] = [];
  const f = (async (_url: unknown, init?: RequestInit) => {
    bodies.push(String(init?.body));
    const next = answers.shift();
    if (!next) throw new Error('no more scripted answers');
    return typeof next === 'function' ? next() : next;
  }) as typeof fetch;
  return { fetch: f, bodies };
}
const xml = (body: string, status = 200, headers: Record<string, string> = {}): Response => new Response(body, { status, headers: { 'content-type': 'text/xml', ...headers } });

describe('ChangelogReader', () => {
  const entries = (from: number, n: number): unknown[] => Array.from({ length: n }, (_, i) => [`p${from + i}`, '1.0', 1717243200 + i, 'new release', from + i]);

  it('pages through changelog_since_serial: more while pages are full, nextSerial is the last serial', async () => {
    const { fetch, bodies } = scripted([xml(pyAnswer(entries(11, 3))), xml(pyAnswer(entries(14, 2))), xml(pyAnswer([]))]);
    const r = new ChangelogReader({ indexUrl: 'https://pypi.example/', fetch, pageSize: 3 });
    const p1 = await r.since(10);
    expect([p1.events.length, p1.nextSerial, p1.more]).toEqual([3, 13, true]);
    const p2 = await r.since(p1.nextSerial);
    expect([p2.events.length, p2.nextSerial, p2.more]).toEqual([2, 15, false]);
    const p3 = await r.since(p2.nextSerial);
    expect(p3).toEqual({ events: [], nextSerial: 15, more: false, quarantined: [] });
    expect(bodies[1]).toContain('<methodName>changelog_since_serial</methodName>');
    expect(bodies[1]).toContain('<int>13</int>');
  });

  it('reads changelog_last_serial', async () => {
    const { fetch, bodies } = scripted([xml(fixture('changelog-last-serial.xml'))]);
    expect(await new ChangelogReader({ indexUrl: 'https://pypi.example', fetch }).lastSerial()).toBe(23400013);
    expect(bodies[0]).toContain('changelog_last_serial');
  });

  it('backs off on rate-limit faults and HTTP 429, honouring the hint, then succeeds', async () => {
    const waits: number[] = [];
    const { fetch } = scripted([xml(fixture('fault-rate-limited.xml')), xml('busy', 429, { 'retry-after': '3' }), xml('busy', 429), xml(pyAnswer(entries(1, 1)))]);
    const r = new ChangelogReader({ indexUrl: 'https://pypi.example', fetch, sleep: async (ms) => void waits.push(ms), random: () => 0.5, retry: { initialMs: 100, maxMs: 100_000, attempts: 5 } });
    const page = await r.since(0);
    expect(page.events).toHaveLength(1);
    expect(waits).toEqual([17_000, 3_000, 300]); // the fault's "reset in 17 seconds", Retry-After: 3, then backoff (third step 400 ms, jitter 0.5 → 300)
  });

  it('gives up after the configured attempts with PYTI_FEED_RATE_LIMITED', async () => {
    const { fetch } = scripted([xml('', 429), xml('', 429), xml('', 429)]);
    const waits: number[] = [];
    const r = new ChangelogReader({ indexUrl: 'https://pypi.example', fetch, sleep: async (ms) => void waits.push(ms), random: () => 1, retry: { attempts: 3, initialMs: 10, maxMs: 15 } });
    let err: unknown;
    await r.since(0).catch((e) => (err = e));
    expect(err).toBeInstanceOf(FeedRateLimitedError);
    expect((err as PytiError).code).toBe('PYTI_FEED_RATE_LIMITED');
    expect(waits).toEqual([10, 15]);
  });

  it('does not retry faults, malformed or truncated answers, and reports each with its code', async () => {
    const page = pyAnswer(entries(1, 5));
    const cases: Array<[Response, string]> = [
      [xml(fixture('fault-generic.xml')), 'PYTI_FEED_FAULT'],
      [xml(page.slice(0, page.length / 2)), 'PYTI_FEED_MALFORMED'],
      [xml('<html>oops</html>'), 'PYTI_FEED_MALFORMED'],
      [xml(page), 'PYTI_FEED_MALFORMED'], // oversize (maxResponseBytes below)
      [xml('', 502), 'PYTI_INDEX_UNREACHABLE'],
      [xml(Buffer.from([0x3c, 0xff, 0xfe]) as unknown as string), 'PYTI_FEED_MALFORMED'],
    ];
    for (const [res, code] of cases) {
      const { fetch } = scripted([res]);
      const r = new ChangelogReader({ indexUrl: 'https://pypi.example', fetch, maxResponseBytes: code === 'PYTI_FEED_MALFORMED' && res === cases[3]![0] ? 200 : undefined, sleep: async () => { throw new Error('must not retry'); } });
      expect(await codeOf(() => r.since(0))).toBe(code);
    }
    // One entry that does not ascend is quarantined; the page is used, not refused.
    const { fetch } = scripted([xml(pyAnswer([['p', '1', 1, 'new release', 5], ['p', '1', 1, 'new release', 4]]))]);
    const page2 = await new ChangelogReader({ indexUrl: 'https://pypi.example', fetch }).since(0);
    expect([page2.events.map((e) => e.serial), page2.nextSerial, page2.quarantined?.map((q) => q.code)]).toEqual([[5], 5, ['PYTI_FEED_SERIAL_INVALID']]);
    const down = new ChangelogReader({ indexUrl: 'http://127.0.0.1:1', timeoutMs: 2000 });
    expect(await codeOf(() => down.since(0))).toBe('PYTI_INDEX_UNREACHABLE');
  });
});

describe('checkChangelog (entry by entry)', () => {
  it('quarantines bad entries and keeps the rest; the cursor passes only trusted serials', () => {
    const r = checkChangelog([
      ['foo', '1.0', 1, 'new release', 10],
      ['foo', 1.0, 1, 'new release', 11], // a bad version: quarantined, its serial trusted
      ['foo', '1.0', 1, 'new release', 'twelve'],
      ['foo', '1.0', 1, 'new release', 9], // does not ascend
      ['bar', '2.0', 1, 'new release', 13],
      ['x', null, 1, 'create', 2 ** 31], // beyond the index's last serial
    ] as XmlRpcValue, { after: 5, maxSerial: 100 });
    expect(r.events.map((e) => e.serial)).toEqual([10, 13]);
    expect(r.lastTrusted).toBe(13);
    expect(r.raw).toBe(6);
    expect(r.quarantined.map((q) => [q.code, q.serial, q.beyondIndex ?? false])).toEqual([
      ['PYTI_FEED_ENTRY_MALFORMED', '11', false],
      ['PYTI_FEED_SERIAL_INVALID', 'twelve', false],
      ['PYTI_FEED_SERIAL_INVALID', '9', false],
      ['PYTI_FEED_SERIAL_INVALID', '2147483648', true],
    ]);
    // Without a bound the same entry is an event (parseChangelog stays all-or-nothing).
    expect(checkChangelog([['x', null, 1, 'create', 2 ** 31]] as XmlRpcValue).events).toHaveLength(1);
  });

  it('keeps an integer beyond 2^53 as its digits instead of refusing the whole answer', () => {
    const v = decodeMethodResponse(pyAnswer([]).replace('<array><data>\n</data></array>', '<array><data><value><array><data><value><string>foo</string></value><value><nil/></value><value><int>1</int></value><value><string>create</string></value><value><int>9007199254740993</int></value></data></array></value></data></array>'));
    const r = checkChangelog(v);
    expect(r.events).toEqual([]);
    expect(r.quarantined).toMatchObject([{ code: 'PYTI_FEED_SERIAL_INVALID', serial: '9007199254740993', name: 'foo' }]);
  });
});
