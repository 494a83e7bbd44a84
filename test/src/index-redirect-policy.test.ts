/**
 * Where the master's feed readers and the slave's index client may go: the configured index (here a
 * loopback "redirector" standing in for a hostile or compromised index) and its configured files
 * hosts (here the test index), nothing else. Real loopback servers, real sockets, real name
 * resolution (`localhost` from /etc/hosts); the "other" server counts every request it gets, so a
 * refused redirect is shown to have sent nothing there (no re-POSTed XML-RPC body).
 */
import { jest } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FetchPolicy, IndexClient, isNonPublicAddress, policyFetch } from '@pyti/common';
import { ChangelogReader, RssWatcher, loadMasterConfig } from '@pyti/master';
import { loadSlaveConfig } from '@pyti/slave';
import { buildIndexFixtures, type IndexFixtures } from './index-fixtures.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

jest.setTimeout(120_000);

interface Hit { method: string; url: string; body: string; authorization?: string }
interface Loopback { url: string; port: number; hits: Hit[]; route: (req: IncomingMessage, body: string, res: ServerResponse) => void; close(): Promise<void> }

async function loopback(): Promise<Loopback> {
  const lb = { hits: [] as Hit[], route: (_q: IncomingMessage, _b: string, res: ServerResponse) => void res.writeHead(404).end() } as Loopback;
  const srv: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      lb.hits.push({ method: req.method ?? '', url: req.url ?? '', body, authorization: req.headers.authorization });
      lb.route(req, body, res);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  lb.port = (srv.address() as { port: number }).port;
  lb.url = `http://127.0.0.1:${lb.port}`;
  lb.close = () => new Promise<void>((r) => srv.close(() => r()));
  return lb;
}

const redirectTo = (status: number, location: string) => (_q: IncomingMessage, _b: string, res: ServerResponse) => void res.writeHead(status, { location }).end();
const codeAndMessage = (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`);

let fx: IndexFixtures;
let index: IndexServer;
let redirector: Loopback;
let other: Loopback;
let dir: string;

beforeAll(async () => {
  fx = buildIndexFixtures();
  index = await startIndexServer({ files: fx.files });
  redirector = await loopback();
  other = await loopback();
  other.route = (_q, _b, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('you should not be here');
  dir = mkdtempSync(join(tmpdir(), 'pyti-redirects-'));
});
afterAll(async () => {
  await index?.close();
  await redirector?.close();
  await other?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  redirector.hits.length = 0;
  other.hits.length = 0;
});

describe('the index client (slave downloads, pyti audit NAME)', () => {
  it('refuses a redirect to another loopback port that is not configured, and sends it nothing', async () => {
    redirector.route = redirectTo(302, `${other.url}/pypi/idx-app/1.0/json`);
    const c = new IndexClient({ indexUrl: redirector.url });
    const msg = await codeAndMessage(c.resolve('idx-app', '1.0'));
    expect(msg).toMatch(/^PYTI_INDEX_HOST_REFUSED: redirect \(HTTP 302\) from http:\/\/127\.0\.0\.1:\d+\/pypi\/idx-app\/1\.0\/json to http:\/\/127\.0\.0\.1:\d+\/pypi\/idx-app\/1\.0\/json: http:\/\/127\.0\.0\.1:\d+ is not the index or one of its files hosts/);
    expect(msg).toContain(`to ${other.url}/pypi/idx-app/1.0/json`);
    expect(other.hits).toEqual([]);
    expect(redirector.hits).toHaveLength(1); // not retried: a refusal is not a transient failure
  });

  it('refuses a redirect to a name under .invalid (before any name lookup)', async () => {
    redirector.route = redirectTo(301, 'https://files.evil.invalid/packages/x.tar.gz');
    const c = new IndexClient({ indexUrl: redirector.url });
    expect(await codeAndMessage(c.resolve('idx-app', '1.0'))).toMatch(/^PYTI_INDEX_HOST_REFUSED: .* to https:\/\/files\.evil\.invalid\/packages\/x\.tar\.gz: https:\/\/files\.evil\.invalid is not the index/);
  });

  it('follows a redirect to a configured files host, and downloads the files it names there', async () => {
    redirector.route = (req, _b, res) => void res.writeHead(302, { location: `${index.url}${req.url}` }).end();
    const c = new IndexClient({ indexUrl: redirector.url, filesHosts: [index.url] });
    const f = await c.resolve('idx-app', '1.0');
    expect(f.url.startsWith(`${index.url}/packages/`)).toBe(true);
    const dest = join(dir, f.filename);
    const { sizeBytes } = await c.download(f, dest);
    expect(sizeBytes).toBe(readFileSync(dest).length);
    expect(redirector.hits.map((h) => h.url)).toEqual(['/pypi/idx-app/1.0/json']);
  });

  it('refuses to download a file the JSON names on a host that is not configured', async () => {
    // The configured index's own answer names a file elsewhere (no redirect involved).
    const json = await (await fetch(`${index.url}/pypi/idx-app/1.0/json`)).text();
    redirector.route = (_q, _b, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(json.split(index.url).join(other.url));
    const c = new IndexClient({ indexUrl: redirector.url });
    const f = await c.resolve('idx-app', '1.0');
    expect(f.url.startsWith(`${other.url}/packages/`)).toBe(true);
    expect(await codeAndMessage(c.download(f, join(dir, 'never')))).toMatch(new RegExp(`^PYTI_INDEX_HOST_REFUSED: request: ${other.url.replace(/\./g, '\\.')} is not the index`));
    expect(other.hits).toEqual([]);
  });

  it('checks the address a files host name resolves to: localhost (127.0.0.1) is refused unless given as the address', async () => {
    redirector.route = (req, _b, res) => void res.writeHead(302, { location: `http://localhost:${index.url.split(':').pop()}${req.url}` }).end();
    const byName = new IndexClient({ indexUrl: redirector.url, filesHosts: [`http://localhost:${index.url.split(':').pop()}`] });
    expect(await codeAndMessage(byName.resolve('idx-app', '1.0'))).toMatch(/^PYTI_INDEX_HOST_REFUSED: .*localhost resolves to (127\.0\.0\.1|::1), a loopback, link-local or private address/);
  });
});

describe('the master\'s feed readers (XML-RPC change log, RSS)', () => {
  it('never re-POSTs an XML-RPC body to another origin: a 307 to another loopback port, or even to a configured files host, is refused', async () => {
    redirector.route = redirectTo(307, `${other.url}/pypi`);
    const reader = new ChangelogReader({ indexUrl: redirector.url, retry: { attempts: 1 } });
    expect(await codeAndMessage(reader.lastSerial())).toMatch(/^PYTI_INDEX_HOST_REFUSED: redirect \(HTTP 307\) from .* is not the index/);
    redirector.route = redirectTo(307, `${index.url}/pypi`);
    const withFiles = new ChangelogReader({ indexUrl: redirector.url, retry: { attempts: 1 }, policy: FetchPolicy.forIndex(redirector.url, { filesHosts: [index.url] }) });
    expect(await codeAndMessage(withFiles.lastSerial())).toMatch(/^PYTI_INDEX_HOST_REFUSED: redirect \(HTTP 307\) .*: a POST body is never sent again to another origin/);
    expect(other.hits).toEqual([]);
    expect(redirector.hits.every((h) => h.method === 'POST' && h.body.includes('changelog_last_serial'))).toBe(true);
  });

  it('follows a 307 within the index\'s own origin, body and all', async () => {
    redirector.route = (req, body, res) => {
      if (req.url === '/pypi') return void res.writeHead(307, { location: '/pypi/' }).end();
      res.writeHead(200, { 'content-type': 'text/xml' }).end(body.includes('changelog_last_serial')
        ? '<?xml version="1.0"?><methodResponse><params><param><value><int>4242</int></value></param></params></methodResponse>'
        : '<?xml version="1.0"?><methodResponse><fault><value><struct></struct></value></fault></methodResponse>');
    };
    expect(await new ChangelogReader({ indexUrl: redirector.url, retry: { attempts: 1 } }).lastSerial()).toBe(4242);
    expect(redirector.hits.map((h) => `${h.method} ${h.url}`)).toEqual(['POST /pypi', 'POST /pypi/']);
  });

  it('refuses an RSS redirect to a host that is not configured', async () => {
    redirector.route = redirectTo(301, `${other.url}/rss/updates.xml`);
    const rss = new RssWatcher({ url: `${redirector.url}/rss/updates.xml`, kind: 'updates', policy: FetchPolicy.forIndex(redirector.url) });
    expect(await codeAndMessage(rss.poll())).toMatch(/^PYTI_INDEX_HOST_REFUSED: redirect \(HTTP 301\) .* is not the index/);
    expect(other.hits).toEqual([]);
  });
});

describe('the fetch policy', () => {
  it('turns a POST redirected with 303 into a GET without the body, and drops credentials when leaving the first origin', async () => {
    const policy = FetchPolicy.forIndex(redirector.url, { filesHosts: [other.url] });
    redirector.route = (req, _b, res) => void (req.url === '/form'
      ? res.writeHead(303, { location: '/result' }).end()
      : req.url === '/away' ? res.writeHead(302, { location: `${other.url}/landed` }).end() : res.writeHead(200).end('ok'));
    const r = await policyFetch(policy, `${redirector.url}/form`, { method: 'POST', body: 'secret=1', headers: { authorization: 'Bearer t0ken', 'content-type': 'text/plain' } });
    expect(r.status).toBe(200);
    expect(redirector.hits.map((h) => [h.method, h.url, h.body, h.authorization])).toEqual([['POST', '/form', 'secret=1', 'Bearer t0ken'], ['GET', '/result', '', 'Bearer t0ken']]);
    await policyFetch(policy, `${redirector.url}/away`, { headers: { authorization: 'Bearer t0ken' } });
    expect(other.hits.map((h) => [h.method, h.url, h.authorization])).toEqual([['GET', '/landed', undefined]]);
  });


  it('is built from --index-url and --files-host once, at start-up; bad files hosts are PYTI_CONFIG_INVALID', () => {
    const pypi = loadMasterConfig({ data: join(dir, 'm') }, {});
    expect(pypi.fetchPolicy.origins).toEqual(['https://pypi.org', 'https://files.pythonhosted.org']);
    const test = loadMasterConfig({ data: join(dir, 'm'), indexUrl: index.url }, {});
    expect(test.fetchPolicy.origins).toEqual([index.url]);
    const files = loadMasterConfig({ data: join(dir, 'm'), indexUrl: index.url, filesHost: ['files.example.org', 'http://127.0.0.1:9999'] }, {});
    expect(files.fetchPolicy.origins).toEqual([index.url, 'https://files.example.org', 'http://127.0.0.1:9999']);
    expect(Object.isFrozen(files.fetchPolicy)).toBe(true);
    for (const bad of ['ftp://files.example.org', 'https://files.example.org/packages/', 'https://u:p@files.example.org', 'http://[::1']) {
      expect(() => loadMasterConfig({ data: join(dir, 'm'), filesHost: [bad] }, {})).toThrow(/PYTI_CONFIG_INVALID|--files-host/);
    }
    const slave = loadSlaveConfig({ master: 'http://127.0.0.1:1', token: 'slave1-token-0123456789', indexUrl: index.url, filesHost: [other.url] }, {});
    expect(slave.fetchPolicy.origins).toEqual([index.url, other.url]);
    expect(() => loadSlaveConfig({ master: 'http://127.0.0.1:1', token: 'slave1-token-0123456789', filesHost: ['ftp://x'] }, {})).toThrow(/--files-host/);
  });

  it('checks the resolved address in the connection itself: a files host name answering a link-local or private address is refused', async () => {
    redirector.route = (_q, _b, res) => void res.writeHead(404).end();
    // A resolver standing in for hostile DNS: the allowed name resolves to the cloud metadata address, or to a private one.
    for (const address of ['169.254.169.254', '10.0.0.7', 'fe80::1', '::ffff:192.168.1.1']) {
      const policy = FetchPolicy.forIndex(redirector.url, {
        filesHosts: [`http://files.rebind.invalid:${other.port}`],
        resolve: async () => [{ address, family: address.includes(':') ? 6 : 4 }],
      });
      expect(await codeAndMessage(policyFetch(policy, `http://files.rebind.invalid:${other.port}/x`)))
        .toContain(`PYTI_INDEX_HOST_REFUSED: http://files.rebind.invalid:${other.port}/x: files.rebind.invalid resolves to ${address}`);
    }
    // The same name answering a loopback address the operator did not name: refused too; the index's own host is always allowed.
    const policy = FetchPolicy.forIndex(redirector.url, { filesHosts: [`http://files.rebind.invalid:${other.port}`], resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
    expect(await codeAndMessage(policyFetch(policy, `http://files.rebind.invalid:${other.port}/x`))).toMatch(/^PYTI_INDEX_HOST_REFUSED/);
    expect((await policyFetch(policy, `${redirector.url}/anything`)).status).toBe(404);
    expect(other.hits).toEqual([]);
    for (const a of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.0.1', '169.254.1.1', '::1', 'fd00::1', 'fe80::1', '0.0.0.0']) expect(isNonPublicAddress(a)).toBe(true);
    for (const a of ['151.101.0.223', '2a04:4e42::223', '172.32.0.1']) expect(isNonPublicAddress(a)).toBe(false);
  });
});
