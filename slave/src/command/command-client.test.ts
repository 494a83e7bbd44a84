import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandClient } from './command-client.js';
import { backoffDelay } from '@pyti/common';

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;
let handler: Handler;
let server: Server;
let url: string;
let dir: string;
const seen: { method: string; url: string; auth?: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body: body.toString('utf8') });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'pyti-cmd-client-'));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => (seen.length = 0));

const json = (res: ServerResponse, status: number, doc: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(doc));
};
const answer = (result: unknown): Handler => (_req, body, res) => json(res, 200, { jsonrpc: '2.0', id: JSON.parse(body.toString()).id, result });
const fast = { initialMs: 5, maxMs: 20, deadlineMs: 2000 };
const code = (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: { code?: string }) => e.code ?? String(e));

describe('command client', () => {
  it('sends a JSON-RPC request with the bearer token and returns the checked result', async () => {
    handler = answer({ valid: true, extra: 'ignored' });
    const c = new CommandClient({ masterUrl: `${url}/`, token: 'tok-1', retry: fast });
    await expect(c.call('jobs.progress', { leaseId: 'L', events: [] })).resolves.toEqual({ valid: true });
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/rpc/v1', auth: 'Bearer tok-1' });
    expect(JSON.parse(seen[0]!.body)).toMatchObject({ jsonrpc: '2.0', method: 'jobs.progress', params: { leaseId: 'L', events: [] } });
  });

  it('retries 5xx and dropped connections, then succeeds', async () => {
    let n = 0;
    handler = (req, body, res) => {
      n++;
      if (n === 1) return json(res, 503, { error: 'restarting' });
      if (n === 2) return req.socket.destroy();
      answer({ stored: true })(req, body, res);
    };
    const retries: number[] = [];
    const c = new CommandClient({ masterUrl: url, token: 't', retry: fast, onRetry: (i) => retries.push(i.attempt) });
    await expect(c.call('jobs.complete', { leaseId: 'L', outcome: { kind: 'error', code: 'PYTI_INPUT_MALFORMED', message: 'x', retry: false } })).resolves.toEqual({ stored: true });
    expect(n).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  it('maps JSON-RPC errors to their PYTI code without retrying', async () => {
    handler = (_req, body, res) => json(res, 200, { jsonrpc: '2.0', id: JSON.parse(body.toString()).id, error: { code: -32010, message: 'lease gone', data: { code: 'PYTI_LEASE_LOST' } } });
    const c = new CommandClient({ masterUrl: url, token: 't', retry: fast });
    await expect(code(c.call('slave.heartbeat', { leases: [], draining: false }))).resolves.toBe('PYTI_LEASE_LOST');
    expect(seen).toHaveLength(1);
    handler = (_req, _body, res) => json(res, 401, { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'bad token', data: { code: 'PYTI_AUTH' } } });
    await expect(code(c.call('slave.heartbeat', { leases: [], draining: false }))).resolves.toBe('PYTI_AUTH');
  });

  it('refuses malformed answers', async () => {
    const c = new CommandClient({ masterUrl: url, token: 't', retry: fast });
    handler = answer({ jobs: [{ jobId: 'j', leaseId: 'l', attempt: 1, backend: 'bwrap', leaseExpiresAt: 1, source: { kind: 'upload', filename: 'a-1.tar.gz', sha256: 'nothex', sizeBytes: 1 } }] });
    await expect(code(c.call('jobs.lease', { max: 1, waitMs: 0 }))).resolves.toBe('PYTI_RPC_INVALID');
    handler = (_req, _body, res) => json(res, 200, { jsonrpc: '2.0', id: 'someone-else', result: { valid: true } });
    await expect(code(c.call('jobs.progress', { leaseId: 'L', events: [] }))).resolves.toBe('PYTI_RPC_INVALID');
    handler = (_req, _body, res) => res.end('<html>');
    await expect(code(c.call('jobs.progress', { leaseId: 'L', events: [] }))).resolves.toBe('PYTI_RPC_INVALID');
  });

  it('ignores commands it does not know', async () => {
    handler = answer({ extended: [{ leaseId: 'a', leaseExpiresAt: 5 }], lost: ['b'], commands: [{ kind: 'reboot' }, { kind: 'drain' }] });
    const c = new CommandClient({ masterUrl: url, token: 't', retry: fast });
    await expect(c.call('slave.heartbeat', { leases: ['a', 'b'], draining: false })).resolves.toEqual({
      extended: [{ leaseId: 'a', leaseExpiresAt: 5 }], lost: ['b'], commands: [{ kind: 'drain' }],
    });
  });

  it('gives up with PYTI_MASTER_UNREACHABLE after its deadline when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const retries: number[] = [];
    const c = new CommandClient({ masterUrl: `http://127.0.0.1:${port}`, token: 't', retry: { initialMs: 20, maxMs: 100, deadlineMs: 500 }, onRetry: (i) => retries.push(i.delayMs) });
    const t0 = Date.now();
    const err = await c.call('slave.heartbeat', { leases: [], draining: false }).catch((e: Error & { code: string }) => e);
    expect((err as { code: string }).code).toBe('PYTI_MASTER_UNREACHABLE');
    expect((err as Error).cause).toBeDefined();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(retries.length).toBeGreaterThanOrEqual(2);
  });

  it('stops retrying when its signal aborts', async () => {
    handler = (_req, _body, res) => json(res, 502, {});
    const c = new CommandClient({ masterUrl: url, token: 't', retry: { initialMs: 50, maxMs: 50, deadlineMs: 60_000 } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop')), 200);
    await expect(c.call('jobs.lease', { max: 1, waitMs: 0 }, { signal: ac.signal })).rejects.toThrow('stop');
  });

  it('uploads and downloads blobs, checking the hash', async () => {
    const blobs = new Map<string, Buffer>();
    const tampered = new Set<string>();
    handler = (req, body, res) => {
      const sha = req.url!.split('/').pop()!;
      if (req.method === 'PUT') {
        if (createHash('sha256').update(body).digest('hex') !== sha) return json(res, 400, { error: { code: 'PYTI_BLOB_MISMATCH', message: 'no' } });
        blobs.set(sha, body);
        return json(res, 200, { sha256: sha });
      }
      const b = blobs.get(sha);
      if (!b) return json(res, 404, { error: { code: 'PYTI_BLOB_MISMATCH', message: 'none' } });
      res.end(tampered.has(sha) ? Buffer.from('tampered') : b);
    };
    const c = new CommandClient({ masterUrl: url, token: 'tk', retry: fast });
    const src = join(dir, 'src.bin');
    writeFileSync(src, Buffer.alloc(300_000, 7));
    const sha = await c.putBlob(src);
    expect(sha).toBe(createHash('sha256').update(readFileSync(src)).digest('hex'));
    // Filtered by this test's token: the abort test above may leave a retry in flight that lands now.
    expect(seen.filter((s) => s.auth === 'Bearer tk')[0]).toMatchObject({ method: 'PUT', url: `/rpc/v1/blobs/${sha}` });
    await expect(c.getBlob(sha, join(dir, 'dest.bin'))).resolves.toEqual({ sizeBytes: 300_000 });
    expect(readFileSync(join(dir, 'dest.bin')).equals(readFileSync(src))).toBe(true);
    const bad = '1'.repeat(64);
    blobs.set(bad, Buffer.from('x'));
    tampered.add(bad);
    await expect(code(c.getBlob(bad, join(dir, 'bad.bin')))).resolves.toBe('PYTI_BLOB_MISMATCH');
    await expect(code(c.getBlob('f'.repeat(64), join(dir, 'none.bin')))).resolves.toBe('PYTI_BLOB_MISMATCH');
    await expect(code(c.getBlob(sha, join(dir, 'small.bin'), { maxBytes: 1000 }))).resolves.toBe('PYTI_BLOB_MISMATCH');
    expect(existsSync(join(dir, 'bad.bin'))).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes('.part-'))).toEqual([]);
  });

  it('refuses bad configuration', () => {
    expect(() => new CommandClient({ masterUrl: 'ftp://x', token: 't' })).toThrow(/http/);
    expect(() => new CommandClient({ masterUrl: 'http://u:p@x', token: 't' })).toThrow(/credentials/);
    expect(() => new CommandClient({ masterUrl: 'http://x', token: '' })).toThrow(/token/);
  });

  it('backs off exponentially with jitter, capped', () => {
    const p = { initialMs: 100, maxMs: 1000, factor: 2, deadlineMs: 1 };
    expect(backoffDelay(1, p, () => 0)).toBe(50);
    expect(backoffDelay(1, p, () => 1)).toBe(100);
    expect(backoffDelay(3, p, () => 1)).toBe(400);
    expect(backoffDelay(10, p, () => 1)).toBe(1000);
  });
});
