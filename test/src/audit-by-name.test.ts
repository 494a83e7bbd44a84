/**
 * `pyti audit` by name, by URL and as a file with an index, end to end on the bwrap backend: the
 * distribution resolved and downloaded from the test index (sha256 checked), its dependencies and
 * build requirements prefetched on the host with the guest's pip into the user's wheel cache, then
 * audited. Also an index that serves only static Simple API pages (no JSON API), a hash mismatch and
 * an unknown project.
 */
import { jest } from '@jest/globals';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { cacheRoot } from '@pyti/images';
import { IndexClient, normalizeProject, type AuditReport } from '@pyti/common';
import { main, type CliIO } from '@pyti/slave/cli';
import { fetchAuditTarget, parseAuditTarget } from '../../slave/src/cli/audit-target.js';
import { buildIndexFixtures, type IndexFixtures } from './index-fixtures.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

jest.setTimeout(900_000);

function io(): CliIO & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', isTTY: false, out: (s: string) => (o.stdout += s), err: (s: string) => (o.stderr += s) };
  return o;
}

let fx: IndexFixtures;
let server: IndexServer;
let dir: string;
let cache: string;
const savedEnv = { ...process.env };
let appSdist: string;

beforeAll(async () => {
  fx = buildIndexFixtures();
  appSdist = basename(fx.dists['idx-app']!.sdist);
  server = await startIndexServer({ files: fx.files });
  dir = mkdtempSync(join(tmpdir(), 'pyti-by-name-'));
  // A fresh per-user cache (downloads/, wheels/) that still finds the guest image built under the real one.
  cache = join(dir, 'cache');
  mkdirSync(cache);
  symlinkSync(join(cacheRoot(), 'images'), join(cache, 'images'));
  process.env.PYTI_CACHE_DIR = cache;
  for (const k of ['PYTI_INDEX_URL', 'PIP_INDEX_URL', 'PIP_CONFIG_FILE']) delete process.env[k];
  process.env.PIP_CONFIG_FILE = '/dev/null';
});
afterAll(async () => {
  process.env = savedEnv;
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const packageGets = (s: { requests: { method: string; path: string }[] }): string[] => s.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/packages/')).map((r) => basename(r.path));
const report = (out: string): AuditReport => JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as AuditReport;
const d2v = (p: string): string => (/-(1\.[01])[-.]/.exec(basename(p)) ?? [])[1]!;
const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
/** Job directories of this process (other processes on the machine may be auditing too). */
const jobDirs = (): string[] => readdirSync(tmpdir()).filter((n) => {
  try {
    return n.startsWith('pyti-job-') && readFileSync(join(tmpdir(), n, 'owner.pid'), 'utf8') === String(process.pid);
  } catch {
    return false;
  }
});

/** The audit got its dependency from the index: idx-leaf 1.1 installed, nothing missing. */
function expectInstalledFromIndex(r: AuditReport): void {
  expect(r.install?.missingDependencies ?? []).toEqual([]);
  expect(r.install?.installed?.map((p) => `${normalizeProject(p.name)} ${p.version}`)).toEqual(expect.arrayContaining(['idx-app 1.0', 'idx-leaf 1.1']));
}

describe('pyti audit by name against the test index', () => {
  it('NAME==VERSION: resolves, downloads with the sha256 checked, prefetches into the user cache, audits', async () => {
    const out = join(dir, 'pinned');
    const o = io();
    const before = jobDirs();
    const rc = await main(['audit', 'idx-app==1.0', '--index-url', server.url, '--out', out], o);
    expect(o.stderr).not.toContain('internal error');
    expect([0, 1]).toContain(rc);
    expect(o.stderr).toContain(`package index ${server.simpleUrl} (--index-url)`);
    expect(o.stderr).toContain('resolving idx-app==1.0');
    expect(o.stderr).toContain(`downloading ${appSdist}`);
    expect(o.stderr).toContain(`${appSdist}: sha256 verified`);
    expect(o.stderr).toMatch(/prefetch: resolving dependencies: idx-leaf>=1\.0/);
    expect(o.stderr).toMatch(/prefetch: 3 wheels \(3 downloaded\)/);
    const r = report(out);
    expect(r.distribution.filename).toBe(appSdist);
    expect(r.distribution.origin).toEqual({ kind: 'index', url: expect.stringMatching(new RegExp(`^${server.url}/packages/.*/${appSdist}$`)), index: server.url, sha256Verified: true });
    expectInstalledFromIndex(r);
    expect(o.stdout).toContain(`  from: ${r.distribution.origin!.url}  sha256 verified`);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain(`from <code>${r.distribution.origin!.url}</code> (sha256 verified)`);
    // The download and the wheels are in the user's cache; the job's wheelhouse is gone.
    expect(existsSync(join(cache, 'downloads', sha256(fx.dists['idx-app']!.sdist), appSdist))).toBe(true);
    expect(readdirSync(join(cache, 'wheels', 'by-name')).sort().map((f) => f.split('-')[0])).toEqual(['idx_leaf', 'setuptools', 'wheel']);
    expect(jobDirs()).toEqual(before);
    expect(packageGets(server).sort()).toEqual([appSdist, ...fx.buildRequirements.map((p) => basename(p)), basename(fx.dists['idx-leaf-1.1']!.wheel)].sort());
  });

  it('NAME (latest release), the index given as its simple URL: a second run downloads nothing', async () => {
    const gets = packageGets(server).length;
    const out = join(dir, 'latest');
    const o = io();
    const rc = await main(['audit', 'idx-leaf', '--index-url', server.simpleUrl, '--out', out], o);
    expect([0, 1]).toContain(rc);
    expect(o.stderr).toContain('resolving idx-leaf (latest release)');
    const leafSdist = basename(fx.dists['idx-leaf-1.1']!.sdist);
    expect(o.stderr).toContain(`idx-leaf 1.1: ${leafSdist}, sha256 `);
    expect(o.stderr).toMatch(/sha256 [0-9a-f]{16}… \(JSON API\)/);
    const r = report(out);
    expect([r.distribution.name, r.distribution.version, r.distribution.kind]).toEqual(['idx-leaf', '1.1', 'sdist']);
    expect(r.distribution.origin).toMatchObject({ kind: 'index', index: server.url, sha256Verified: true });
    const leafGets = packageGets(server).slice(gets);
    expect(leafGets).toEqual([leafSdist]); // build requirements came from the wheel cache

    const o2 = io();
    const rc2 = await main(['audit', 'idx-leaf', '--index-url', server.simpleUrl, '--out', join(dir, 'latest2'), '--json'], o2);
    expect(rc2).toBe(rc);
    expect(o2.stderr).toContain(`${leafSdist}: cached copy, sha256 verified`);
    expect(o2.stderr).toMatch(/prefetch: \d+ wheels \(0 downloaded\)/);
    expect(packageGets(server).length).toBe(gets + 1);
    expect((JSON.parse(o2.stdout) as AuditReport).distribution.origin?.kind).toBe('index');
  });

  it('URL: the file is checked against the hash the index publishes for its name', async () => {
    const wheel = basename(fx.dists['idx-app']!.wheel);
    const file = await new IndexClient({ indexUrl: server.url }).resolve('idx-app', '1.0', wheel);
    const out = join(dir, 'url');
    const o = io();
    const rc = await main(['audit', file.url, '--index-url', server.url, '--out', out], o);
    expect([0, 1]).toContain(rc);
    expect(o.stderr).toContain(`looking up ${wheel} on ${server.simpleUrl}`);
    expect(o.stderr).toContain(`downloading ${wheel}`);
    expect(o.stderr).toContain(`${wheel}: sha256 verified against the index's`);
    const r = report(out);
    expect(r.distribution.origin).toEqual({ kind: 'url', url: file.url, index: server.url, sha256Verified: true });
    expectInstalledFromIndex(r);
  });

  it('FILE with --index-url (here from PIP_INDEX_URL): dependencies prefetched from the index, nothing downloaded again', async () => {
    const gets = packageGets(server).length;
    const out = join(dir, 'file');
    const o = io();
    process.env.PIP_INDEX_URL = server.simpleUrl;
    let rc: number;
    try {
      rc = await main(['audit', fx.dists['idx-app']!.sdist, '--out', out], o);
    } finally {
      delete process.env.PIP_INDEX_URL;
    }
    expect([0, 1]).toContain(rc);
    expect(o.stderr).toContain(`package index ${server.simpleUrl} (PIP_INDEX_URL)`);
    expect(o.stderr).toMatch(/prefetch: 3 wheels \(0 downloaded\)/);
    expect(packageGets(server).length).toBe(gets);
    const r = report(out);
    expect(r.distribution.origin).toEqual({ kind: 'file', sha256Verified: false });
    expectInstalledFromIndex(r);
  });

  it('NAME with --wheelhouse: the distribution from the index, the dependencies from the wheelhouse only', async () => {
    const wh = join(dir, 'wh-empty');
    mkdirSync(wh);
    const o = io();
    const out = join(dir, 'with-wheelhouse');
    const rc = await main(['audit', 'idx-app==1.0', '--index-url', server.url, '--wheelhouse', wh, '--out', out], o);
    expect(rc).toBe(1);
    expect(o.stderr).not.toContain('prefetch');
    const r = report(out);
    expect(r.result).toBe('install-fail:deps');
    expect(r.install?.missingDependencies?.join(' ')).toMatch(/idx-leaf/);
  });

  it('hands what prefetch resolved for the tests to the audit: the test extra installed, what the index lacks named by the host', async () => {
    const more = buildIndexFixtures({ extra: ['idx-tested', 'idx-test-missing'] });
    const idx = await startIndexServer({ files: more.files.filter((f) => !/idx_test(ed|_missing)-.*\.whl$/.test(f)) });
    try {
      const o = io();
      const out = join(dir, 'tested');
      expect(await main(['audit', 'idx-tested==1.0', '--index-url', idx.simpleUrl, '--out', out], o)).toBe(0);
      expect(o.stderr).toMatch(/prefetch: test requirements: pytest cannot be resolved from the index; the test task uses the image's copy/);
      const r = report(out);
      expect(r.result).toBe('pass');
      expect(r.tests).toMatchObject({ total: 2, passed: 2 });
      expect(r.tests!.run!.installed).toEqual(['idx-app>=1.0']);

      // The host's pip could not resolve idx-absent-from-index: the guest is told so (`unresolved`) and does not run the
      // tests; without prefetch's list the guest would only find out itself when installing them.
      const out2 = join(dir, 'test-missing');
      await main(['audit', 'idx-test-missing==1.0', '--index-url', idx.simpleUrl, '--out', out2], io());
      const r2 = report(out2);
      expect(r2.result).toBe('test-fail:deps');
      expect(r2.tests!.missingRequirements).toEqual(['idx-absent-from-index>=1']);
      const raw = JSON.parse(readFileSync(join(out2, 'raw', 'test', 'pytest.json'), 'utf8')) as { unresolved?: { requirement: string }[] };
      expect(raw.unresolved?.map((u) => u.requirement)).toEqual(['idx-absent-from-index>=1']);
    } finally {
      await idx.close();
    }
  });

  it('refuses a download whose bytes do not match the published sha256 (exit 2, PYTI_INDEX_HASH_MISMATCH)', async () => {
    const leaf = basename(fx.dists['idx-leaf-1.0']!.sdist);
    const bad = await startIndexServer({ files: fx.files, corrupt: [leaf] });
    try {
      const o = io();
      const out = join(dir, 'corrupt');
      expect(await main(['audit', 'idx-leaf==1.0', '--index-url', bad.url, '--out', out], o)).toBe(2);
      expect(o.stderr).toContain('pyti: error PYTI_INDEX_HASH_MISMATCH:');
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(join(cache, 'downloads')).filter((n) => n.startsWith('.staging-'))).toEqual([]);
      expect(existsSync(join(cache, 'downloads', sha256(fx.dists['idx-leaf-1.0']!.sdist)))).toBe(false);
    } finally {
      await bad.close();
    }
  });

  it('says clearly that an unknown project or version is not on the index (exit 2), and refuses bad arguments (exit 64)', async () => {
    const o = io();
    expect(await main(['audit', 'no-such-project', '--index-url', server.url, '--out', join(dir, 'nope')], o)).toBe(2);
    expect(o.stderr).toMatch(/pyti: error PYTI_INDEX_NOT_FOUND: project no-such-project: the index has no project no-such-project/);
    const o2 = io();
    expect(await main(['audit', 'idx-leaf==9.9', '--index-url', server.url], o2)).toBe(2);
    expect(o2.stderr).toMatch(/PYTI_INDEX_NOT_FOUND: idx-leaf has no release 9\.9 on the index; it has 1\.0, 1\.1/);
    // The test index's Simple API page (PEP 691 JSON, negotiated as pip does; the name normalized and redirected).
    const page = await new IndexClient({ indexUrl: server.simpleUrl }).simplePage('IDX_Leaf');
    expect(page.map((f) => [f.filename, f.version, f.sha256]).sort()).toEqual(
      ['idx-leaf-1.0', 'idx-leaf-1.1'].flatMap((d) => [fx.dists[d]!.sdist, fx.dists[d]!.wheel]).map((p) => [basename(p), d2v(p), sha256(p)]).sort());
    // Before prefetching, an index that does not answer is said once (not found out by every pip run).
    expect(await new IndexClient({ indexUrl: server.url }).whyUnreachable('no-such-project')).toBeUndefined();
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(await new IndexClient({ indexUrl: `http://127.0.0.1:${port}` }).whyUnreachable('idx-app')).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/simple/idx-app/: fetch failed \\(.*ECONNREFUSED`));
    for (const argv of [['audit', 'idx-leaf>=1.0'], ['audit', 'idx-leaf[test]'], ['audit', 'idx-leaf', '--index-url', 'ftp://x']]) {
      const o3 = io();
      const rc = await main([...argv, '--out', join(dir, 'usage')], o3);
      expect([argv.join(' '), rc]).toEqual([argv.join(' '), argv.includes('ftp://x') ? 2 : 64]);
    }
  });

  it('a URL the index does not know is audited unverified, and says so', async () => {
    const files = join(dir, 'loose');
    mkdirSync(files);
    const copy = join(files, 'idx_app-1.0.tar.gz');
    copyFileSync(fx.dists['idx-app']!.sdist, copy);
    const { server: http, url } = await serveDir(files);
    try {
      // An index that knows nothing of idx-app.
      const empty = await startIndexServer({ files: fx.buildRequirements });
      try {
        const lines: string[] = [];
        const client = new IndexClient({ indexUrl: empty.url });
        const got = await fetchAuditTarget(parseAuditTarget(`${url}/idx_app-1.0.tar.gz`), { client, downloadsDir: join(dir, 'dl-unverified'), say: (l) => lines.push(l) });
        expect(got.origin).toEqual({ kind: 'url', url: `${url}/idx_app-1.0.tar.gz`, sha256Verified: false });
        expect(lines.join('\n')).toContain('the index does not know idx_app-1.0.tar.gz: auditing it with its sha256 unverified');
        expect(got.path).toBe(join(dir, 'dl-unverified', sha256(copy), 'idx_app-1.0.tar.gz'));
        expect(got.expect).toBeUndefined();
        // With a #sha256= fragment the fragment is the check: a wrong one is refused.
        await expect(fetchAuditTarget(parseAuditTarget(`${url}/idx_app-1.0.tar.gz#sha256=${'0'.repeat(64)}`), { client, downloadsDir: join(dir, 'dl-frag'), say: () => undefined }))
          .rejects.toMatchObject({ code: 'PYTI_INDEX_HASH_MISMATCH' });
        const ok = await fetchAuditTarget(parseAuditTarget(`${url}/idx_app-1.0.tar.gz#sha256=${sha256(copy)}`), { client, downloadsDir: join(dir, 'dl-frag'), say: () => undefined });
        expect(ok.origin).toEqual({ kind: 'url', url: `${url}/idx_app-1.0.tar.gz`, sha256Verified: true });
      } finally {
        await empty.close();
      }
    } finally {
      await new Promise((r) => http.close(r));
    }
  });
});

/** A static HTTP server for `root` on 127.0.0.1 (GET only; `/x/` serves `x/index.html`; everything else 404). */
async function serveDir(root: string): Promise<{ server: Server; url: string; requests: { method: string; path: string }[] }> {
  const requests: { method: string; path: string }[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push({ method: req.method ?? '', path });
    const file = join(root, path.endsWith('/') ? `${path}index.html` : path);
    if (req.method !== 'GET' || path.includes('..') || !existsSync(file) || !file.startsWith(root)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.endsWith('.html') ? 'text/html' : 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

describe('pyti audit against an index that serves only static /simple/ pages', () => {
  it('picks the newest non-yanked final release from the page, checks the #sha256= fragment, prefetches from the same pages', async () => {
    // A static mirror: /simple/<project>/index.html with #sha256= links, /packages/<file>; no JSON API.
    const root = join(dir, 'static');
    mkdirSync(join(root, 'packages'), { recursive: true });
    const byProject = new Map<string, { file: string; sha: string; yanked?: boolean }[]>();
    const add = (src: string, as = basename(src), yanked = false): void => {
      copyFileSync(src, join(root, 'packages', as));
      const project = normalizeProject(as.endsWith('.whl') ? as.split('-')[0]! : as.slice(0, as.replace(/\.tar\.gz$/, '').lastIndexOf('-')));
      byProject.set(project, [...(byProject.get(project) ?? []), { file: as, sha: sha256(src), yanked }]);
    };
    for (const f of fx.files) add(f);
    // Decoys that must not be chosen as the latest: a pre-release and a yanked release (their bytes are 1.0's, so
    // picking one would end in PYTI_INDEX_MISMATCH).
    add(fx.dists['idx-app']!.sdist, 'idx_app-2.0rc1.tar.gz');
    add(fx.dists['idx-app']!.sdist, 'idx_app-1.5.tar.gz', true);
    for (const [project, files] of byProject) {
      mkdirSync(join(root, 'simple', project), { recursive: true });
      const links = files.map((f) => `<a href="../../packages/${f.file}#sha256=${f.sha}"${f.yanked ? ' data-yanked="broken"' : ''}>${f.file}</a><br/>`).join('\n');
      writeFileSync(join(root, 'simple', project, 'index.html'), `<!DOCTYPE html><html><body><h1>Links for ${project}</h1>\n${links}\n</body></html>\n`);
    }
    const { server: http, url, requests } = await serveDir(root);
    try {
      const o = io();
      const out = join(dir, 'static-out');
      const rc = await main(['audit', 'idx-app', '--index-url', `${url}/simple/`, '--out', out], o);
      expect(o.stderr).not.toContain('internal error');
      expect([0, 1]).toContain(rc);
      expect(requests.some((r) => r.path === '/pypi/idx-app/json')).toBe(true); // asked, 404, fell back
      expect(o.stderr).toContain(`idx-app 1.0: ${appSdist}, sha256 `);
      expect(o.stderr).toMatch(/sha256 [0-9a-f]{16}… \(Simple API\)/);
      const r = report(out);
      expect(r.distribution.origin).toEqual({ kind: 'index', url: `${url}/packages/${appSdist}`, index: url, sha256Verified: true });
      expectInstalledFromIndex(r);
      // Pinned to the yanked release: chosen (as pip does for ==), said to be yanked, and its bytes checked against its metadata.
      const o2 = io();
      expect(await main(['audit', 'idx-app==1.5', '--index-url', `${url}/simple/`, '--out', join(dir, 'static-yanked')], o2)).toBe(2);
      expect(o2.stderr).toContain('(yanked release)');
      expect(o2.stderr).toContain('pyti: error PYTI_INDEX_MISMATCH:');
    } finally {
      await new Promise((r) => http.close(r));
    }
  });
});
