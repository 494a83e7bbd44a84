import { PytiError } from '@pyti/vm-agent';
import { SIMPLE_JSON, SimpleIndexReader } from './simple-index.js';

/** An index answering each request with the next scripted answer; records the requests. */
function scripted(answers: Response[]): { fetch: typeof fetch; seen: { url: string; headers: Record<string, string> }[] } {
  const seen: { url: string; headers: Record<string, string> }[] = [];
  return {
    seen,
    fetch: (async (url: string, init?: RequestInit) => {
      seen.push({ url: String(url), headers: { ...(init?.headers as Record<string, string>) } });
      return answers.shift()!;
    }) as typeof fetch,
  };
}
const json = (doc: unknown, headers: Record<string, string> = {}, status = 200) =>
  new Response(JSON.stringify(doc), { status, headers: { 'content-type': SIMPLE_JSON, ...headers } });

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return err instanceof PytiError ? err.code : `not a PytiError: ${String(err)}`;
  }
  return undefined;
}

describe('SimpleIndexReader', () => {
  it('reads the root with its ETag and _last-serial; asks with If-None-Match; a 304 is notModified', async () => {
    const { fetch, seen } = scripted([
      json({ meta: { 'api-version': '1.1', '_last-serial': 77 }, projects: [
        { name: 'Foo.Bar', '_last-serial': 70 }, { name: 'ok', '_last-serial': 5 },
        { name: 'not a name', '_last-serial': 1 }, { name: 'huge', '_last-serial': 2 ** 60 }, { name: 'str', '_last-serial': '3' }, null,
      ] }, { etag: '"r1"' }),
      new Response(null, { status: 304 }),
    ]);
    const r = new SimpleIndexReader({ indexUrl: 'https://pypi.example/', fetch });
    expect(await r.rootListing()).toEqual({
      notModified: false, etag: '"r1"', lastSerial: 77, skipped: 4,
      projects: [{ name: 'Foo.Bar', normalized: 'foo-bar', lastSerial: 70 }, { name: 'ok', normalized: 'ok', lastSerial: 5 }],
    });
    expect(await r.rootListing('"r1"')).toEqual({ notModified: true });
    expect(seen.map((s) => [s.url, s.headers.accept, s.headers['if-none-match']])).toEqual([
      ['https://pypi.example/simple/', SIMPLE_JSON, undefined], ['https://pypi.example/simple/', SIMPLE_JSON, '"r1"'],
    ]);
  });

  it('refuses a root that is not the JSON Simple API, or has no serials, with PYTI_INDEX_MALFORMED', async () => {
    const cases: Response[] = [
      new Response('<html></html>', { headers: { 'content-type': 'text/html' } }),
      new Response('{"projects": [', { headers: { 'content-type': SIMPLE_JSON } }),
      json({ projects: 'all of them' }),
      json({ projects: [{ name: 'foo' }, { name: 'bar' }] }), // an index without pypi.org's serials
    ];
    for (const res of cases) {
      const { fetch } = scripted([res]);
      expect(await codeOf(new SimpleIndexReader({ indexUrl: 'https://pypi.example', fetch }).rootListing())).toBe('PYTI_INDEX_MALFORMED');
    }
    const { fetch } = scripted([new Response('busy', { status: 503 })]);
    expect(await codeOf(new SimpleIndexReader({ indexUrl: 'https://pypi.example', fetch }).rootListing())).toBe('PYTI_INDEX_UNREACHABLE');
  });

  it('reads a project page: files with upload times, _last-serial, PEP 792 status', async () => {
    const sha = 'a'.repeat(64);
    const { fetch, seen } = scripted([json({
      meta: { 'api-version': '1.4', '_last-serial': 12 }, name: 'foo-bar',
      'project-status': { status: 'quarantined', reason: 'x'.repeat(600) },
      files: [
        { filename: 'foo_bar-1.0.tar.gz', url: '/packages/foo_bar-1.0.tar.gz', hashes: { sha256: sha }, 'upload-time': '2026-01-02T03:04:05.123456Z' },
        { filename: 'foo_bar-1.1-py3-none-any.whl', url: 'https://files.example/f.whl', hashes: {}, 'upload-time': 'not a time' },
        { filename: '../evil-1.0.tar.gz', url: 'https://files.example/e.tar.gz', hashes: {} },
      ],
    })]);
    const p = await new SimpleIndexReader({ indexUrl: 'https://pypi.example', fetch }).project('Foo.Bar');
    expect(seen[0]!.url).toBe('https://pypi.example/simple/foo-bar/');
    expect([p.name, p.normalized, p.lastSerial, p.status, p.statusReason!.length]).toEqual(['Foo.Bar', 'foo-bar', 12, 'quarantined', 500]);
    expect(p.files.map((f) => [f.filename, f.version, f.url, f.sha256 ?? null, f.uploadMs])).toEqual([
      ['foo_bar-1.0.tar.gz', '1.0', 'https://pypi.example/packages/foo_bar-1.0.tar.gz', sha, Date.parse('2026-01-02T03:04:05.123Z')],
      ['foo_bar-1.1-py3-none-any.whl', '1.1', 'https://files.example/f.whl', null, null],
    ]);
  });

  it('answers a bad page with a stable code', async () => {
    const cases: [Response, string][] = [
      [json({ name: 'foo', files: [], 'project-status': { status: 'exploded' } }), 'PYTI_INDEX_MALFORMED'],
      [json({ name: 'foo', files: [], 'project-status': 'quarantined' }), 'PYTI_INDEX_MALFORMED'],
      [json({ name: 'someone-else', files: [] }), 'PYTI_INDEX_MISMATCH'],
      [json({ name: 'foo', files: 'none' }), 'PYTI_INDEX_MALFORMED'],
      [json({ message: 'Not Found' }, {}, 404), 'PYTI_INDEX_NOT_FOUND'],
    ];
    for (const [res, code] of cases) {
      const { fetch } = scripted([res]);
      expect(await codeOf(new SimpleIndexReader({ indexUrl: 'https://pypi.example', fetch }).project('foo'))).toBe(code);
    }
  });
});
