// The master's HTTP hardening against a real master on 127.0.0.1:0: security headers and CSP
// nonces, the Host allow-list, the login page and its CSRF checks, /healthz, upload file names.
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMasterConfig, type MasterFlags } from '../config.js';
import { tinyReport, tinyWheel } from '../testing/tiny-dists.js';
import { buildMasterApp, type MasterApp } from './master-app.js';

const SLAVE = 's1-token-0123456789';
const USER = 'user-token-0123456789';

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One request over a real socket, any headers (Host included); no redirects followed. */
function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A .tar.gz sdist whose PKG-INFO says `name` `version`, saved as `filename`. */
function sdist(dir: string, filename: string, name: string, version: string): Buffer {
  const top = join(dir, 'src', `${name}-${version}`);
  mkdirSync(top, { recursive: true });
  writeFileSync(join(top, 'PKG-INFO'), `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n`);
  writeFileSync(join(top, 'setup.py'), 'from setuptools import setup\nsetup()\n');
  const out = join(dir, filename);
  const r = spawnSync('tar', ['-czf', out, '-C', join(dir, 'src'), `${name}-${version}`]);
  if (r.status !== 0) throw new Error(String(r.stderr));
  return readFileSync(out);
}

describe('master HTTP hardening', () => {
  let dir: string;
  let m: MasterApp;
  let url: string;

  async function start(flags: MasterFlags = {}): Promise<void> {
    const config = loadMasterConfig({ data: dir, port: 0, maxWaitMs: 1000, slaveToken: [`s1:${SLAVE}`], ...flags }, { PYTI_USER_TOKEN: USER });
    m = await buildMasterApp(config, { sweepIntervalMs: 0 });
    url = await m.listen();
  }
  const submit = async (project: string) => {
    const r = await send(url, 'POST', '/api/v1/audits', { authorization: `Bearer ${USER}`, 'content-type': 'application/json' }, JSON.stringify({ project, version: '1.0' }));
    expect(r.status).toBe(202);
    return JSON.parse(r.body) as { id: string };
  };
  const cookie = `pyti_token=${USER}`;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-http-'));
    await start();
  });
  afterEach(async () => {
    await m.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('security headers', () => {
    it('gives every page a fresh CSP nonce that its scripts carry, and no unsafe-inline', async () => {
      const { id } = await submit('live-pkg'); // queued: the pages carry their live scripts
      const nonces = new Set<string>();
      for (const path of ['/', '/', `/audits/${id}`]) {
        const r = await send(url, 'GET', path, { cookie });
        expect(r.status).toBe(200);
        const csp = String(r.headers['content-security-policy']);
        const nonce = /script-src 'nonce-([A-Za-z0-9+/=]{20,})'/.exec(csp)![1]!;
        nonces.add(nonce);
        expect(csp).not.toContain('unsafe-inline');
        expect(csp).not.toContain('unsafe-eval');
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).toContain("default-src 'none'");
        const scripts = [...r.body.matchAll(/<script\b([^>]*)>/g)].map((x) => x[1]);
        expect(scripts.length).toBeGreaterThan(0);
        for (const attrs of scripts) expect(attrs).toContain(`nonce="${nonce}"`);
        expect(r.body).not.toContain('<style>');
        expect(r.headers['x-content-type-options']).toBe('nosniff');
        expect(r.headers['x-frame-options']).toBe('DENY');
        expect(r.headers['referrer-policy']).toBe('same-origin');
      }
      expect(nonces.size).toBe(3);
    });

    it('sends nosniff, a no-content policy and DENY on the JSON API, errors and the command API', async () => {
      for (const [path, headers, status] of [
        ['/api/v1/audits', { authorization: `Bearer ${USER}` }, 200],
        ['/api/v1/audits', {}, 401],
        ['/nowhere', {}, 404],
        ['/healthz', {}, 200],
      ] as const) {
        const r = await send(url, 'GET', path, headers);
        expect(r.status).toBe(status);
        expect(r.headers['content-type']).toMatch(/^application\/json/);
        expect(r.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
        expect(r.headers['x-content-type-options']).toBe('nosniff');
        expect(r.headers['x-frame-options']).toBe('DENY');
        expect(r.headers['referrer-policy']).toBe('same-origin');
      }
      const rpc = await send(url, 'POST', '/rpc/v1', { authorization: 'Bearer wrong-token-123', 'content-type': 'application/json' }, '{}');
      expect(rpc.status).toBe(401);
      expect(rpc.headers['x-content-type-options']).toBe('nosniff');
    });

    it('serves the stored report with its own nonce\'d stylesheet and no inline anything else', async () => {
      const lease = async () => {
        const call = (method: string, params: unknown) => send(url, 'POST', '/rpc/v1', { authorization: `Bearer ${SLAVE}`, 'content-type': 'application/json' }, JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
        await call('slave.register', { protocolVersion: 1, version: '0.1.0', host: 'h', capabilities: { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 1 } });
        const leaseId = JSON.parse((await call('jobs.lease', { max: 1, waitMs: 0 })).body).result.jobs[0].leaseId;
        await call('jobs.complete', { leaseId, outcome: { kind: 'report', report: tinyReport('rep-pkg', '1.0', 'clean', 'pass'), artifacts: [] } });
      };
      const { id } = await submit('rep-pkg');
      await lease();
      const r = await send(url, 'GET', `/api/v1/audits/${id}/report.html`, { authorization: `Bearer ${USER}` });
      expect(r.status).toBe(200);
      const csp = String(r.headers['content-security-policy']);
      const nonce = /style-src 'nonce-([^']+)'/.exec(csp)![1]!;
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('script-src');
      expect(r.body).toContain(`<style nonce="${nonce}">`);
      expect(r.body).not.toContain('<style>');
      expect(r.headers['x-frame-options']).toBe('SAMEORIGIN');
    });

    it('serves the pages\' stylesheet to anyone, as CSS', async () => {
      const r = await send(url, 'GET', '/assets/pyti.css');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/css/);
      expect(r.body).toContain('tr.tone-red');
    });
  });

  describe('Host allow-list', () => {
    it('answers the listen host and localhost forms, and refuses any other Host with 421 before routing', async () => {
      const port = new URL(url).port;
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`]) {
        expect((await send(url, 'GET', '/healthz', { host })).status).toBe(200);
      }
      for (const [method, path] of [['GET', '/healthz'], ['GET', '/'], ['POST', '/api/v1/audits'], ['POST', '/rpc/v1'], ['GET', '/no-such-route']]) {
        const r = await send(url, method!, path!, { host: `rebind.invalid:${port}`, authorization: `Bearer ${USER}` }, method === 'POST' ? '{}' : undefined);
        expect(r.status).toBe(421);
        expect(JSON.parse(r.body).error.code).toBe('PYTI_HOST_NOT_ALLOWED');
      }
      // No Host at all (HTTP/1.0 may leave it out): refused too.
      const raw = await new Promise<string>((resolve, reject) => {
        const sock = connect(Number(port), '127.0.0.1', () => sock.end('GET /healthz HTTP/1.0\r\n\r\n'));
        let text = '';
        sock.on('data', (c: Buffer) => (text += c.toString('latin1')));
        sock.on('end', () => resolve(text));
        sock.on('error', reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.[01] 421 /);
      expect(raw).toContain('PYTI_HOST_NOT_ALLOWED');
      // Nothing was submitted through the refused requests.
      expect(JSON.parse((await send(url, 'GET', '/api/v1/audits', { authorization: `Bearer ${USER}` })).body).audits).toEqual([]);
    });

    it('answers names added with --allowed-host, and any name with --allowed-host "*"', async () => {
      await m.close();
      await start({ allowedHost: ['master.invalid', 'proxy.invalid:8443'] });
      expect((await send(url, 'GET', '/healthz', { host: 'master.invalid:1234' })).status).toBe(200);
      expect((await send(url, 'GET', '/healthz', { host: 'proxy.invalid:8443' })).status).toBe(200);
      expect((await send(url, 'GET', '/healthz', { host: 'proxy.invalid:8444' })).status).toBe(421);
      expect((await send(url, 'GET', '/healthz', { host: 'other.invalid' })).status).toBe(421);
      await m.close();
      await start({ allowedHost: ['*'] });
      expect((await send(url, 'GET', '/healthz', { host: 'other.invalid' })).status).toBe(200);
    });
  });

  describe('/healthz', () => {
    it('says only ok without a token, and the queue counts with a user or slave token', async () => {
      await submit('counted');
      const anon = JSON.parse((await send(url, 'GET', '/healthz')).body);
      expect(anon).toEqual({ ok: true });
      expect(JSON.parse((await send(url, 'GET', '/healthz', { authorization: 'Bearer wrong-token-123' })).body)).toEqual({ ok: true });
      for (const token of [USER, SLAVE]) {
        const full = JSON.parse((await send(url, 'GET', '/healthz', { authorization: `Bearer ${token}` })).body);
        expect(full).toMatchObject({ ok: true, counts: { queued: 1 } });
      }
    });
  });

  describe('login page', () => {
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
    const post = (path: string, fields: Record<string, string>, headers: Record<string, string>) =>
      send(url, 'POST', path, { 'content-type': 'application/x-www-form-urlencoded', ...headers }, form(fields));

    it('shows a login form instead of JSON to a browser without a token; a right token logs in', async () => {
      const { id } = await submit('secret-pkg');
      const page = await send(url, 'GET', `/audits/${id}`);
      expect(page.status).toBe(401);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.body).toContain('<form method="post" action="/login">');
      expect(page.body).toContain(`name="next" value="/audits/${id}"`);
      expect(page.body).not.toContain('secret-pkg');
      expect(page.body).not.toContain('Log out');
      // The JSON API still answers JSON.
      expect((await send(url, 'GET', '/api/v1/audits')).headers['content-type']).toMatch(/^application\/json/);

      const wrongQuery = await send(url, 'GET', `/audits/${id}?token=not-the-token`);
      expect(wrongQuery.status).toBe(401);
      expect(wrongQuery.body).toContain('That is not the user token.');
      expect(wrongQuery.body).toContain(`name="next" value="/audits/${id}"`);

      const origin = url.replace(/\/$/, '');
      const wrong = await post('/login', { token: 'not-the-token', next: `/audits/${id}` }, { origin });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toContain('That is not the user token.');
      expect(wrong.headers['set-cookie']).toBeUndefined();

      const ok = await post('/login', { token: USER, next: `/audits/${id}` }, { origin });
      expect(ok.status).toBe(303);
      expect(ok.headers.location).toBe(`/audits/${id}`);
      const set = String(ok.headers['set-cookie']);
      expect(set).toMatch(/^pyti_token=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/); // plain http: not Secure
      const again = await send(url, 'GET', `/audits/${id}`, { cookie: set.split(';')[0]! });
      expect(again.status).toBe(200);
      expect(again.body).toContain('secret-pkg');
      expect(again.body).toContain('<form method="post" action="/logout">');
    });

    it('only returns to a path on this site after logging in', async () => {
      const origin = url.replace(/\/$/, '');
      for (const next of ['//evil.invalid/x', 'https://evil.invalid/', '/\\evil.invalid', 'javascript:alert(1)']) {
        const r = await post('/login', { token: USER, next }, { origin });
        expect(r.status).toBe(303);
        expect(r.headers.location).toBe('/');
      }
    });

    it('refuses form posts from other sites (CSRF) before reading them, and logs out', async () => {
      const origin = url.replace(/\/$/, '');
      for (const headers of [{ origin: 'http://evil.invalid' }, { origin: 'null' }, {}, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site', origin }]) {
        for (const path of ['/login', '/logout']) {
          const r = await post(path, { token: USER }, headers);
          expect(r.status).toBe(403);
          expect(JSON.parse(r.body).error.code).toBe('PYTI_CSRF');
          expect(r.headers['set-cookie']).toBeUndefined();
        }
      }
      const sameSite = await post('/login', { token: USER }, { 'sec-fetch-site': 'same-origin' });
      expect(sameSite.status).toBe(303);
      const out = await post('/logout', {}, { origin, cookie });
      expect(out.status).toBe(303);
      expect(out.headers.location).toBe('/login');
      expect(String(out.headers['set-cookie'])).toMatch(/^pyti_token=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict/);
    });
  });

  describe('upload file names', () => {
    const upload = (filename: string, bytes: Buffer) => send(url, 'POST', `/api/v1/audits/upload?filename=${encodeURIComponent(filename)}`,
      { authorization: `Bearer ${USER}`, 'content-type': 'application/octet-stream' }, bytes);

    it('refuses an archive uploaded under another project\'s name or version, and stores nothing', async () => {
      const evil = sdist(dir, 'evil-0.1.tar.gz', 'evil', '0.1');
      const w = tinyWheel('tinypkg', '2.0');
      for (const [filename, bytes] of [['requests-2.32.3.tar.gz', evil], ['evil-0.2.tar.gz', evil], ['requests-2.32.3-py3-none-any.whl', w.bytes], ['tinypkg-2.1-py3-none-any.whl', w.bytes]] as const) {
        const r = await upload(filename, bytes);
        expect(r.status).toBe(400);
        const err = JSON.parse(r.body).error;
        expect(err.code).toBe('PYTI_UPLOAD_NAME_MISMATCH');
        expect(err.message).toContain(filename);
        expect(err.message).not.toContain(dir);
      }
      expect(JSON.parse((await send(url, 'GET', '/api/v1/audits', { authorization: `Bearer ${USER}` })).body).audits).toEqual([]);
      expect(readdirSync(join(dir, 'blobs'))).toEqual([]);
      expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
      // Under its own name (any normalized spelling) it is queued.
      const good = await upload('Evil-0.1.tar.gz', evil);
      expect(good.status).toBe(202);
      expect(JSON.parse(good.body)).toMatchObject({ project: 'evil', version: '0.1', filename: 'Evil-0.1.tar.gz' });
    });
  });
});
