/**
 * The test package index: both Simple API formats, the JSON API, files, name normalization, 404s,
 * fault injection and the request log, over real HTTP; and the decisive check that the guest
 * image's real pip resolves and downloads from it, verifying hashes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { requireRootfs } from '@pyti/images';
import { buildIndexFixtures, type IndexFixtures } from './index-fixtures.js';
import { blake2bHex } from './index-server/blake2b.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';
import { compareVersions, normalizeName } from './index-server/names.js';
import { negotiateSimple } from './index-server/negotiate.js';

const PIP_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const md5 = (path: string): string => createHash('md5').update(readFileSync(path)).digest('hex');

let fx: IndexFixtures;
let server: IndexServer;
let tmp: string;

beforeAll(async () => {
  fx = buildIndexFixtures();
  server = await startIndexServer({ files: fx.files });
  tmp = mkdtempSync(join(tmpdir(), 'pyti-index-test-'));
}, 600_000);
afterAll(async () => {
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const get = (s: IndexServer, path: string, init: RequestInit = {}): Promise<Response> => fetch(s.url + path, { redirect: 'manual', ...init });

/** The `<a>` elements of an HTML page: href, text and the data-requires-python attribute as written. */
function anchors(html: string): { href: string; text: string; requiresPython?: string }[] {
  return [...html.matchAll(/<a href="([^"]*)"(?: data-requires-python="([^"]*)")?>([^<]*)<\/a>/g)].map((m) => ({
    href: m[1]!.replace(/&amp;/g, '&'), requiresPython: m[2], text: m[3]!,
  }));
}

describe('Simple API (PEP 503 HTML)', () => {
  it('lists every project, with the repository version', async () => {
    const r = await get(server, '/simple/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html');
    const html = await r.text();
    expect(html).toContain('<meta name="pypi:repository-version" content="1.1">');
    expect(anchors(html).map((a) => [a.text, a.href])).toEqual([
      ['idx-app', '/simple/idx-app/'], ['idx-leaf', '/simple/idx-leaf/'], ['setuptools', '/simple/setuptools/'], ['wheel', '/simple/wheel/'],
    ]);
  });

  it('links each file of a project with its real sha256 and an escaped requires-python', async () => {
    const html = await (await get(server, '/simple/idx-app/')).text();
    const links = anchors(html);
    expect(links.map((a) => a.text).sort()).toEqual(['idx-app-1.0.tar.gz', 'idx_app-1.0-py3-none-any.whl']);
    for (const a of links) {
      const local = fx.files.find((f) => basename(f) === a.text)!;
      expect(a.href).toMatch(new RegExp(`^${server.url}/packages/.+/${a.text.replace(/\./g, '\\.')}#sha256=${sha256(local)}$`));
      expect(a.requiresPython).toBe('&lt;4,&gt;=3.8');
      const file = await fetch(a.href.split('#')[0]!);
      expect(file.status).toBe(200);
      expect(Number(file.headers.get('content-length'))).toBe(statSync(local).size);
      expect(Buffer.from(await file.arrayBuffer()).equals(readFileSync(local))).toBe(true);
    }
  });

  it('serves application/vnd.pypi.simple.v1+html when asked for it', async () => {
    const r = await get(server, '/simple/idx-leaf/', { headers: { Accept: 'application/vnd.pypi.simple.v1+html' } });
    expect(r.headers.get('content-type')).toBe('application/vnd.pypi.simple.v1+html');
    expect(anchors(await r.text())).toHaveLength(4);
  });
});

describe('Simple API (PEP 691 JSON)', () => {
  it('answers pip\'s Accept header with JSON', async () => {
    const r = await get(server, '/simple/idx-leaf/', { headers: { Accept: PIP_ACCEPT } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/vnd.pypi.simple.v1+json');
    expect(r.headers.get('vary')).toBe('Accept');
    const doc = await r.json() as { meta: Record<string, string>; name: string; versions: string[]; files: Record<string, unknown>[] };
    expect(doc.meta['api-version']).toBe('1.1');
    expect(doc.name).toBe('idx-leaf');
    expect(doc.versions).toEqual(['1.0', '1.1']);
    expect(doc.files).toHaveLength(4);
    for (const f of doc.files) {
      const local = fx.files.find((p) => basename(p) === f.filename)!;
      expect(f).toEqual({
        filename: basename(local), url: expect.stringMatching(new RegExp(`^${server.url}/packages/`)), hashes: { sha256: sha256(local) },
        'requires-python': '>=3.8', size: statSync(local).size, 'upload-time': expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/), yanked: false,
      });
    }
  });

  it('lists projects in JSON', async () => {
    const r = await get(server, '/simple/', { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } });
    const doc = await r.json() as { meta: Record<string, unknown>; projects: { name: string; '_last-serial': number }[] };
    expect(doc.meta).toEqual({ 'api-version': '1.1', '_last-serial': server.lastSerial() });
    expect(doc.projects.map((p) => p.name)).toEqual(['idx-app', 'idx-leaf', 'setuptools', 'wheel']);
    for (const p of doc.projects) expect(p['_last-serial']).toBe(Number((await get(server, `/simple/${p.name}/`)).headers.get('x-pypi-last-serial')));
  });

  it('honours q-values, wildcards, ?format= and refuses what it cannot serve with 406', async () => {
    const type = async (accept: string | undefined, path = '/simple/idx-app/'): Promise<string | number> => {
      const r = await get(server, path, accept === undefined ? {} : { headers: { Accept: accept } });
      return r.status === 200 ? r.headers.get('content-type')! : r.status;
    };
    expect(await type(undefined)).toBe('text/html');
    expect(await type('application/vnd.pypi.simple.v1+json;q=0.2, text/html')).toBe('text/html');
    expect(await type('text/html;q=0.5, application/vnd.pypi.simple.latest+json')).toBe('application/vnd.pypi.simple.v1+json');
    expect(await type('*/*')).toBe('text/html');
    expect(await type('application/*')).toMatch(/^application\/vnd\.pypi\.simple\.v1\+/);
    expect(await type('text/html;q=0, */*;q=0.1')).not.toBe('text/html');
    expect(await type('application/xml')).toBe(406);
    expect(await type(undefined, '/simple/idx-app/?format=application/vnd.pypi.simple.v1+json')).toBe('application/vnd.pypi.simple.v1+json');
    expect(negotiateSimple('application/vnd.pypi.simple.v1+json;q=0')).toBeNull();
  });
});

describe('names and versions', () => {
  it('redirects non-normalized project names to the PEP 503 URL, and 404s unknown projects', async () => {
    for (const p of ['/simple/IDX_Leaf/', '/simple/idx.leaf/', '/simple/idx-leaf']) {
      const r = await get(server, p);
      expect([p, r.status, r.headers.get('location')]).toEqual([p, 301, '/simple/idx-leaf/']);
    }
    const followed = await fetch(`${server.url}/simple/Idx__Leaf`, { headers: { Accept: PIP_ACCEPT } });
    expect(followed.status).toBe(200);
    expect(((await followed.json()) as { name: string }).name).toBe('idx-leaf');
    expect((await get(server, '/simple/no-such-project/')).status).toBe(404);
    expect((await get(server, '/simple')).headers.get('location')).toBe('/simple/');
  });

  it('normalizes names and orders versions as PEP 503 and PEP 440 say', () => {
    expect(normalizeName('Friendly.Bard__Thing')).toBe('friendly-bard-thing');
    const sorted = ['1.0.post1', '1.0', '1.0rc1', '1.0.dev0', '0.9', '1.0a1', '1.0b2', '1.10', '1.2'].sort(compareVersions);
    expect(sorted).toEqual(['0.9', '1.0.dev0', '1.0a1', '1.0b2', '1.0rc1', '1.0', '1.0.post1', '1.2', '1.10']);
  });
});

describe('JSON API', () => {
  type Url = Record<string, unknown> & { filename: string; digests: Record<string, string> };
  type Doc = { info: Record<string, unknown>; urls: Url[]; releases?: Record<string, Url[]>; last_serial: number };

  it('describes a project from its distributions\' metadata, with digests, latest release and all releases', async () => {
    const r = await get(server, '/pypi/idx-app/json');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    const doc = await r.json() as Doc;
    expect(doc.info).toMatchObject({
      name: 'idx-app', version: '1.0', summary: 'Test index fixture: an application that depends on idx-leaf from the index',
      requires_dist: ['idx-leaf (>=1.0)'], requires_python: '<4,>=3.8', project_url: `${server.url}/project/idx-app/`, yanked: false,
    });
    expect(doc.urls.map((u) => [u.filename, u.packagetype, u.python_version]).sort()).toEqual([
      ['idx-app-1.0.tar.gz', 'sdist', 'source'], ['idx_app-1.0-py3-none-any.whl', 'bdist_wheel', 'py3'],
    ]);
    for (const u of doc.urls) {
      const local = fx.files.find((p) => basename(p) === u.filename)!;
      const bytes = readFileSync(local);
      expect(u.digests).toEqual({ sha256: sha256(local), md5: md5(local), blake2b_256: blake2bHex(bytes, 32) });
      expect(u).toMatchObject({ size: bytes.length, requires_python: '<4,>=3.8', yanked: false, md5_digest: md5(local) });
      expect(u.upload_time_iso_8601).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      const file = await fetch(u.url as string);
      expect(Buffer.from(await file.arrayBuffer()).equals(bytes)).toBe(true);
    }
    expect(Object.keys(doc.releases!)).toEqual(['1.0']);
  });

  it('picks the latest version, lists every release, and serves one version on its own', async () => {
    const project = await (await get(server, '/pypi/idx-leaf/json')).json() as Doc;
    expect(project.info.version).toBe('1.1');
    expect(project.info.requires_dist).toBeNull();
    expect(project.urls.map((u) => u.filename).sort()).toEqual(['idx-leaf-1.1.tar.gz', 'idx_leaf-1.1-py3-none-any.whl']);
    expect(Object.fromEntries(Object.entries(project.releases!).map(([v, us]) => [v, us.map((u) => u.filename).sort()]))).toEqual({
      '1.0': ['idx-leaf-1.0.tar.gz', 'idx_leaf-1.0-py3-none-any.whl'], '1.1': ['idx-leaf-1.1.tar.gz', 'idx_leaf-1.1-py3-none-any.whl'],
    });
    const old = await (await get(server, '/pypi/idx-leaf/1.0/json')).json() as Doc;
    expect(old.info.version).toBe('1.0');
    expect(old.urls.map((u) => u.filename).sort()).toEqual(['idx-leaf-1.0.tar.gz', 'idx_leaf-1.0-py3-none-any.whl']);
    expect(old.releases).toBeUndefined();
    const st = await (await get(server, '/pypi/setuptools/json')).json() as Doc;
    expect(st.info).toMatchObject({ name: 'setuptools', version: '66.1.1' });
  });

  it('answers 404 {"message":"Not Found"} for unknown projects and versions, and redirects to the canonical name', async () => {
    for (const p of ['/pypi/no-such-project/json', '/pypi/idx-leaf/9.9/json']) {
      const r = await get(server, p);
      expect(r.status).toBe(404);
      expect(await r.json()).toEqual({ message: 'Not Found' });
    }
    const r = await get(server, '/pypi/IDX_leaf/1.0/json');
    expect([r.status, r.headers.get('location')]).toEqual([301, '/pypi/idx-leaf/1.0/json']);
  });
});

describe('files', () => {
  it('serves HEAD with the length, and 404 for paths that name no file', async () => {
    const wheel = fx.dists['idx-leaf-1.0']!.wheel;
    const h = sha256(wheel);
    const path = `/packages/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}/${basename(wheel)}`;
    const head = await get(server, path, { method: 'HEAD' });
    expect([head.status, Number(head.headers.get('content-length'))]).toEqual([200, statSync(wheel).size]);
    expect((await get(server, path.replace(basename(wheel), 'other-1.0.tar.gz'))).status).toBe(404);
    expect((await get(server, `/packages/00/00/${'0'.repeat(64)}/${basename(wheel)}`)).status).toBe(404);
    expect((await get(server, '/simple/idx-leaf/', { method: 'POST' })).status).toBe(405);
  });
});

describe('fault injection, request log, addFile, bad input', () => {
  it('publishes wrong digests for a corrupt file and lists a missing file that then 404s', async () => {
    const leaf = fx.dists['idx-leaf-1.1']!;
    const s = await startIndexServer({ files: [leaf.sdist, leaf.wheel], corrupt: [basename(leaf.wheel)], missing: [basename(leaf.sdist)] });
    try {
      const doc = await (await get(s, '/pypi/idx-leaf/json')).json() as { urls: { filename: string; url: string; digests: Record<string, string> }[] };
      const whl = doc.urls.find((u) => u.filename === basename(leaf.wheel))!;
      const sd = doc.urls.find((u) => u.filename === basename(leaf.sdist))!;
      expect(whl.digests.sha256).not.toBe(sha256(leaf.wheel));
      expect(whl.digests.md5).not.toBe(md5(leaf.wheel));
      const body = Buffer.from(await (await fetch(whl.url)).arrayBuffer());
      expect(body.equals(readFileSync(leaf.wheel))).toBe(true);
      const html = await (await get(s, '/simple/idx-leaf/')).text();
      expect(html).not.toContain(`#sha256=${sha256(leaf.wheel)}`);
      expect(sd.digests.sha256).toBe(sha256(leaf.sdist));
      expect(html).toContain(`#sha256=${sha256(leaf.sdist)}`);
      expect((await fetch(sd.url)).status).toBe(404);
    } finally {
      await s.close();
    }
  });

  it('logs every request in-process and at /-/requests', async () => {
    const s = await startIndexServer({ files: [fx.dists['idx-leaf-1.0']!.wheel] });
    try {
      await get(s, '/simple/idx-leaf/');
      await get(s, '/simple/IDX-Leaf/');
      await get(s, '/pypi/nope/json');
      await get(s, '/simple/', { method: 'HEAD' });
      const expected = [
        { method: 'GET', path: '/simple/idx-leaf/', status: 200 }, { method: 'GET', path: '/simple/IDX-Leaf/', status: 301 },
        { method: 'GET', path: '/pypi/nope/json', status: 404 }, { method: 'HEAD', path: '/simple/', status: 200 },
      ];
      expect(s.requests).toEqual(expected);
      expect(await (await get(s, '/-/requests')).json()).toEqual(expected);
      expect(s.requests).toHaveLength(4);
    } finally {
      await s.close();
    }
  });

  it('serves files added while running', async () => {
    const s = await startIndexServer({ files: [fx.dists['idx-leaf-1.0']!.wheel] });
    try {
      expect((await (await get(s, '/pypi/idx-leaf/json')).json() as { info: { version: string } }).info.version).toBe('1.0');
      await s.addFile(fx.dists['idx-leaf-1.1']!.wheel);
      expect((await (await get(s, '/pypi/idx-leaf/json')).json() as { info: { version: string } }).info.version).toBe('1.1');
      await s.addFile(fx.dists['idx-app']!.sdist);
      expect((await get(s, '/simple/idx-app/')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('refuses files that are not distributions and fault options that name no served file', async () => {
    const notes = join(tmp, 'notes-1.0.tar.gz');
    writeFileSync(notes, 'plain text');
    await expect(startIndexServer({ files: [notes] })).rejects.toThrow(/cannot serve .*notes-1\.0\.tar\.gz: .*not gzip/);
    await expect(startIndexServer({ files: [join(tmp, 'absent-1.0.tar.gz')] })).rejects.toThrow(/absent-1\.0\.tar\.gz: no such file/);
    await expect(startIndexServer({ files: [fx.dists['idx-app']!.wheel], corrupt: ['idx_app-9.whl'] })).rejects.toThrow(/corrupt names "idx_app-9\.whl", which is not among the served files/);
  });
});

describe('BLAKE2b', () => {
  it('matches the RFC 7693 and hashlib test vectors', () => {
    expect(blake2bHex(Buffer.from('abc'), 64)).toBe('ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923');
    expect(blake2bHex(Buffer.alloc(0))).toBe('0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8');
    // hashlib.blake2b(bytes([7]) * n, digest_size=32): around the 128-byte block boundary.
    expect(blake2bHex(Buffer.alloc(128, 7))).toBe('332f1f712b03a6a6f6c28db7d96c62f170744119ab0f831b9e0d80f800e3aad7');
    expect(blake2bHex(Buffer.alloc(129, 7))).toBe('a04de7247309966b2b2afc367838071ea523f897e6a405286f2b5627032a8dea');
  });
});

/** Runs the guest image's `pip download` against `indexUrl`, with the host's network (the index is on loopback). */
async function pipDownload(indexUrl: string, out: string, ...reqs: string[]): Promise<{ code: number | null; output: string; files: string[] }> {
  const rootfs = requireRootfs();
  const p = spawn('bwrap', [
    '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent',
    '--ro-bind', rootfs.path, '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--bind', out, '/tmp/out', '--clearenv',
    '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'HOME', '/tmp', '--setenv', 'PIP_DISABLE_PIP_VERSION_CHECK', '1',
    'python3', '-m', 'pip', 'download', '--no-cache-dir', '--retries', '0', '--index-url', indexUrl, '--only-binary=:all:', '-d', '/tmp/out', ...reqs,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  p.stdout.on('data', (d: Buffer) => (output += d));
  p.stderr.on('data', (d: Buffer) => (output += d));
  const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
  return { code, output, files: readdirSync(out).sort() };
}

describe('real pip against the index', () => {
  it('resolves idx-app and its dependency to the newest idx-leaf and downloads both wheels', async () => {
    const out = mkdtempSync(join(tmp, 'pip-'));
    const r = await pipDownload(server.simpleUrl, out, 'idx-app');
    expect(r).toMatchObject({ code: 0, files: ['idx_app-1.0-py3-none-any.whl', 'idx_leaf-1.1-py3-none-any.whl'] });
    for (const f of r.files) expect(sha256(join(out, f))).toBe(sha256(fx.dists[f.startsWith('idx_app') ? 'idx-app' : 'idx-leaf-1.1']!.wheel));
  });

  it('honours version constraints against the index', async () => {
    const out = mkdtempSync(join(tmp, 'pip-'));
    const before = server.requests.length;
    const r = await pipDownload(server.simpleUrl, out, 'idx-app', 'idx-leaf<1.1');
    expect(r).toMatchObject({ code: 0, files: ['idx_app-1.0-py3-none-any.whl', 'idx_leaf-1.0-py3-none-any.whl'] });
    const fetched = server.requests.slice(before).filter((q) => q.path.startsWith('/packages/')).map((q) => q.path.split('/').pop()).sort();
    expect(fetched).toEqual(['idx_app-1.0-py3-none-any.whl', 'idx_leaf-1.0-py3-none-any.whl']);
  });

  it('fails with a hash mismatch when the index publishes a wrong sha256, keeping nothing', async () => {
    const leaf = fx.dists['idx-leaf-1.1']!.wheel;
    const s = await startIndexServer({ files: [fx.dists['idx-app']!.wheel, leaf], corrupt: [basename(leaf)] });
    try {
      const out = mkdtempSync(join(tmp, 'pip-'));
      const r = await pipDownload(s.simpleUrl, out, 'idx-app');
      expect(r.code).not.toBe(0);
      expect(r.output).toContain('THESE PACKAGES DO NOT MATCH THE HASHES');
      expect(r.output).toContain(`Got        ${sha256(leaf)}`);
      expect(r.files).not.toContain(basename(leaf));
    } finally {
      await s.close();
    }
  });

  it('fails naming the 404 when a listed file is missing', async () => {
    const leaf = fx.dists['idx-leaf-1.1']!.wheel;
    const s = await startIndexServer({ files: [fx.dists['idx-app']!.wheel, leaf], missing: [basename(leaf)] });
    try {
      const out = mkdtempSync(join(tmp, 'pip-'));
      const r = await pipDownload(s.simpleUrl, out, 'idx-app');
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/404 Client Error: Not Found for url: .*idx_leaf-1\.1-py3-none-any\.whl/);
      expect(s.requests.filter((q) => q.status === 404).map((q) => q.path.split('/').pop())).toEqual([basename(leaf)]);
    } finally {
      await s.close();
    }
  });
});

describe('index server process', () => {
  const main = new URL('../dist/index-server/main.js', import.meta.url).pathname;

  it('prints its URL, serves, logs requests to stderr and exits 0 on SIGTERM', async () => {
    expect(existsSync(main)).toBe(true); // built by `npm run build` (tsc -b)
    const p = spawn(process.execPath, [main, '--port', '0', fx.dists['idx-app']!.wheel], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      p.stdout.on('data', (d: Buffer) => {
        buf += d;
        if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
      });
      p.on('close', () => reject(new Error(`index server exited early: ${stderr}`)));
    });
    const { url } = JSON.parse(line) as { url: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${url}/simple/idx-app/`)).status).toBe(200);
    expect((await fetch(`${url}/simple/nope/`)).status).toBe(404);
    expect(await (await fetch(`${url}/-/requests`)).json()).toEqual([
      { method: 'GET', path: '/simple/idx-app/', status: 200 }, { method: 'GET', path: '/simple/nope/', status: 404 },
    ]);
    p.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('GET /simple/idx-app/ 200\nGET /simple/nope/ 404\n');
  });

  it('exits 64 on a usage error and 2 on a file it cannot serve', async () => {
    const run = async (...args: string[]): Promise<[number | null, string]> => {
      const p = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d));
      return [await new Promise<number | null>((resolve) => p.on('close', resolve)), err];
    };
    const [usage, usageErr] = await run('--port', 'x');
    expect([usage, usageErr]).toEqual([64, expect.stringContaining('--port x: not a port number')]);
    const [bad, badErr] = await run(join(tmp, 'absent-1.0.tar.gz'));
    expect([bad, badErr]).toEqual([2, expect.stringContaining('absent-1.0.tar.gz: no such file')]);
  });
});
