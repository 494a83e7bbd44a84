import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { PytiError } from '@pyti/vm-agent';
import { UserClient, checkArtifactName } from './user-client.js';
import { apiError } from './api-request.js';

const fast = { retries: 2, baseDelayMs: 1, timeoutMs: 2000 };

async function serve(handler: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/** A port nothing listens on (fetch refuses "bad ports" such as 1 outright, before connecting). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PytiError);
    return (err as PytiError).code;
  }
  throw new Error('did not fail');
}

describe('UserClient', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'pyti-client-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('streams an upload with its length, name and options, and sends the token', async () => {
    const file = join(dir, 'demo-1.0.tar.gz');
    const bytes = Buffer.alloc(300_000, 7);
    writeFileSync(file, bytes);
    let seen: { url?: string; auth?: string; type?: string; len?: string; sha?: string } = {};
    const srv = await serve((req, body, res) => {
      seen = { url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], len: req.headers['content-length'], sha: createHash('sha256').update(body).digest('hex') };
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x1', state: 'queued' }));
    });
    try {
      const c = new UserClient({ url: `${srv.url}/`, token: 'tok-12345678', retry: fast });
      expect((await c.submitUpload(file, { priority: 5, backend: 'qemu' })).id).toBe('x1');
      expect(seen).toEqual({
        url: '/api/v1/audits/upload?filename=demo-1.0.tar.gz&priority=5&backend=qemu', auth: 'Bearer tok-12345678',
        type: 'application/octet-stream', len: '300000', sha: createHash('sha256').update(bytes).digest('hex'),
      });
      expect(c.pageUrl('x 1')).toBe(`${srv.url}/audits/x%201`);
    } finally {
      await srv.close();
    }
    expect(await codeOf(new UserClient({ url: 'http://127.0.0.1:1' }).submitUpload(join(dir, 'missing.whl')))).toBe('PYTI_INPUT_NOT_FOUND');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    expect(await codeOf(new UserClient({ url: 'http://127.0.0.1:1' }).submitUpload(join(dir, 'notes.txt')))).toBe('PYTI_INPUT_NOT_ARCHIVE');
  });

  it('maps refusals to the server code, PYTI_AUTH, PYTI_JOB_NOT_FOUND, or PYTI_USAGE', async () => {
    const srv = await serve((req, _b, res) => {
      const [status, body] = req.url!.includes('auth') ? [401, '{"error":{"code":"PYTI_AUTH","message":"bad token"}}']
        : req.url!.includes('forbidden') ? [403, 'no']
          : req.url!.includes('gone') ? [404, '{"error":{"code":"PYTI_SOMETHING_NEW","message":"?"}}']
            : req.url!.includes('hash') ? [400, '{"error":{"code":"PYTI_INDEX_HASH_MISMATCH","message":"bad hash"}}']
              : [400, '{"statusCode":400,"error":"Bad Request","message":"body/priority must be <= 100"}'];
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    try {
      const c = new UserClient({ url: srv.url, retry: fast });
      expect(await codeOf(c.get('auth'))).toBe('PYTI_AUTH');
      expect(await codeOf(c.get('forbidden'))).toBe('PYTI_AUTH');
      expect(await codeOf(c.get('gone'))).toBe('PYTI_JOB_NOT_FOUND');
      expect(await codeOf(c.get('hash'))).toBe('PYTI_INDEX_HASH_MISMATCH');
      await expect(c.get('other')).rejects.toThrow('GET /api/v1/audits/other: HTTP 400: body/priority must be <= 100');
      expect(await codeOf(c.get('other'))).toBe('PYTI_USAGE');
    } finally {
      await srv.close();
    }
    expect(apiError(413, '', 'x').code).toBe('PYTI_INPUT_TOO_LARGE');
  });

  it('retries connection failures with backoff, then fails with PYTI_MASTER_UNREACHABLE and the cause', async () => {
    let calls = 0;
    const failing = (async () => { calls++; throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) }); }) as unknown as typeof fetch;
    const c = new UserClient({ url: 'http://127.0.0.1:1', fetch: failing, retry: fast });
    const err = await c.list().catch((e: unknown) => e as PytiError);
    expect(err).toBeInstanceOf(PytiError);
    expect((err as PytiError).code).toBe('PYTI_MASTER_UNREACHABLE');
    expect((err as PytiError).message).toContain('ECONNREFUSED');
    expect((err as PytiError).cause).toBeInstanceOf(TypeError);
    expect(calls).toBe(3);
    // And with a real refused connection.
    const refused = await new UserClient({ url: `http://127.0.0.1:${await closedPort()}`, retry: fast }).get('x').catch((e: unknown) => e as PytiError);
    expect(refused.code).toBe('PYTI_MASTER_UNREACHABLE');
    expect(refused.message).toContain('ECONNREFUSED');
  });

  it('retries 503 for reads but not for submissions, and recovers when the master comes back', async () => {
    let n = 0;
    const srv = await serve((req, _b, res) => {
      n++;
      if (n <= 2) res.writeHead(503).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ audits: [] }));
    });
    try {
      const c = new UserClient({ url: srv.url, retry: fast });
      expect(await c.list({ state: 'running', limit: 3 })).toEqual([]);
      expect(n).toBe(3);
      n = 0;
      expect(await codeOf(c.submitByName({ project: 'a', version: '1' }))).toBe('PYTI_MASTER_UNREACHABLE');
      expect(n).toBe(1);
    } finally {
      await srv.close();
    }
  });

  it('waits for an audit, reporting progress, until it ends', async () => {
    const states = ['queued', 'running', 'running', 'done'];
    let i = 0;
    const srv = await serve((_req, _b, res) => {
      const state = states[Math.min(i++, states.length - 1)];
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'w', state, events: [], artifacts: [] }));
    });
    try {
      const seen: string[] = [];
      const d = await new UserClient({ url: srv.url, retry: fast }).waitFor('w', { pollMs: 5, onProgress: (x) => seen.push(x.state) });
      expect(d.state).toBe('done');
      expect(seen).toEqual(states);
      i = 0;
      const early = await new UserClient({ url: srv.url, retry: fast }).waitFor('w', { pollMs: 50, timeoutMs: 10 });
      expect(early.state).toBe('queued');
    } finally {
      await srv.close();
    }
  });

  it('refuses bad URLs and tokens as configuration errors, and unsafe artifact names', () => {
    for (const url of ['not a url', 'ftp://x', 'http://u:p@x', 'http://x/?a=1']) {
      expect(() => new UserClient({ url })).toThrow(expect.objectContaining({ code: 'PYTI_CONFIG_INVALID' }) as Error);
    }
    expect(() => new UserClient({ url: 'http://x', token: 'has space' })).toThrow(expect.objectContaining({ code: 'PYTI_CONFIG_INVALID' }) as Error);
    for (const name of ['../x', '/etc/passwd', 'a/../../b', 'a//b', 'a\\b', '', './a', 'a/']) {
      expect(() => checkArtifactName(name)).toThrow(expect.objectContaining({ code: 'PYTI_INPUT_UNSAFE_PATH' }) as Error);
    }
    expect(checkArtifactName('raw/install/strace.log')).toBe('raw/install/strace.log');
  });
});
