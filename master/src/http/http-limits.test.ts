// The master's body and connection limits over real sockets (127.0.0.1:0): the token is checked
// before a body is read, slow bodies time out, idle keep-alive connections close, and an RPC body
// over COMMAND_LIMITS.maxRpcBodyBytes gets the documented 413 instead of a reset connection.
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMAND_LIMITS, COMMAND_RPC_PATH, CommandErrorCodes } from '@pyti/common';
import { loadMasterConfig, type MasterFlags } from '../config.js';
import { buildMasterApp, type MasterApp } from './master-app.js';

const SLAVE = 's1-token-0123456789';
const USER = 'user-token-0123456789';

/** A raw connection: write `head` (and any more later), collect everything until the server closes. */
function rawConnection(port: number): { sock: Socket; closed: Promise<{ text: string; ms: number }> } {
  const t0 = Date.now();
  const sock = connect(port, '127.0.0.1');
  let text = '';
  const closed = new Promise<{ text: string; ms: number }>((resolve) => {
    sock.on('data', (c: Buffer) => (text += c.toString('latin1')));
    sock.on('close', () => resolve({ text, ms: Date.now() - t0 }));
    sock.on('error', () => undefined); // a write after the server closed; the answer is what counts
  });
  return { sock, closed };
}

describe('master HTTP limits', () => {
  let dir: string;
  let m: MasterApp;
  let port: number;

  async function start(flags: MasterFlags = {}): Promise<void> {
    const config = loadMasterConfig({ data: dir, port: 0, maxWaitMs: 1000, slaveToken: [`s1:${SLAVE}`], ...flags }, { PYTI_USER_TOKEN: USER });
    m = await buildMasterApp(config, { sweepIntervalMs: 0 });
    port = Number(new URL(await m.listen()).port);
  }
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-limits-'));
  });
  afterEach(async () => {
    await m.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers an upload without the token 401 at once, without waiting for its body, and closes', async () => {
    await start();
    for (const path of ['/api/v1/audits/upload?filename=a-1.0.tar.gz', '/api/v1/audits', '/api/v1/subscriptions']) {
      const { sock, closed } = rawConnection(port);
      sock.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 50000000\r\n\r\n0123456789`);
      const { text, ms } = await closed; // the client never sends the other 49999990 bytes
      expect(text).toMatch(/^HTTP\/1\.1 401 /);
      expect(text).toMatch(/\r\nconnection: close\r\n/i);
      expect(text).toContain('"code":"PYTI_AUTH"');
      expect(ms).toBeLessThan(5000);
    }
  });

  it('cuts a body that arrives too slowly after --request-timeout-ms (408), even with the token', async () => {
    await start({ requestTimeoutMs: 1000 });
    const { sock, closed } = rawConnection(port);
    sock.write(`POST /api/v1/audits HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${USER}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"project":`);
    const drip = setInterval(() => sock.writable && sock.write(' '), 200); // alive, but never done
    const { text, ms } = await closed;
    clearInterval(drip);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(4000);
  });

  it('closes an idle kept-alive connection after --keep-alive-timeout-ms', async () => {
    await start({ keepAliveTimeoutMs: 300 });
    const { sock, closed } = rawConnection(port);
    sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const { text, ms } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(ms).toBeLessThan(3000);
  });

  it('answers an upload announced above --max-upload-bytes 413 before reading it', async () => {
    await start({ maxUploadBytes: 4096 });
    const { sock, closed } = rawConnection(port);
    sock.write(`POST /api/v1/audits/upload?filename=a-1.0.tar.gz HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${USER}\r\nContent-Type: application/octet-stream\r\nContent-Length: 4097\r\n\r\n0123`);
    const { text, ms } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toContain('"code":"PYTI_INPUT_TOO_LARGE"');
    expect(ms).toBeLessThan(5000);
  });

  it('refuses an idle timeout that would cut long-polls', () => {
    expect(() => loadMasterConfig({ data: '/x', maxWaitMs: 30_000, idleTimeoutMs: 20_000 }, {})).toThrow(/--idle-timeout-ms.*max-wait-ms/);
    expect(loadMasterConfig({ data: '/x', maxWaitMs: 30_000 }, {})).toMatchObject({ idleTimeoutMs: 60_000, requestTimeoutMs: 120_000, keepAliveTimeoutMs: 5_000 });
  });

  describe('an RPC body over the 16 MiB cap', () => {
    const rpcError = (body: string) => JSON.parse(body) as { jsonrpc: string; id: null; error: { code: number; message: string; data: { code: string } } };

    it('gets 413 and a JSON-RPC error when its Content-Length says so (fetch, as the slave sends)', async () => {
      await start();
      const body = Buffer.alloc(COMMAND_LIMITS.maxRpcBodyBytes + 1, 0x20);
      const res = await fetch(`http://127.0.0.1:${port}${COMMAND_RPC_PATH}`, { method: 'POST', headers: { authorization: `Bearer ${SLAVE}`, 'content-type': 'application/json' }, body });
      expect(res.status).toBe(413);
      const e = rpcError(await res.text());
      expect(e).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: CommandErrorCodes.tooLarge, data: { code: 'PYTI_INPUT_TOO_LARGE' } } });
      expect(e.error.message).toContain(String(COMMAND_LIMITS.maxRpcBodyBytes));
      // A body at the cap is read (and answered as the malformed JSON-RPC it is).
      const atCap = await fetch(`http://127.0.0.1:${port}${COMMAND_RPC_PATH}`, { method: 'POST', headers: { authorization: `Bearer ${SLAVE}`, 'content-type': 'application/json' }, body: body.subarray(1) });
      expect(atCap.status).toBe(200);
      expect((await atCap.json()).error.data.code).toBe('PYTI_RPC_INVALID');
    });

    it('gets 413, not a reset, when it is sent chunked without a length', async () => {
      await start();
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: COMMAND_RPC_PATH, method: 'POST', headers: { authorization: `Bearer ${SLAVE}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (r) => {
          let text = '';
          r.on('data', (c: Buffer) => (text += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        for (let i = 0; i < 16; i++) req.write(chunk);
        req.end(Buffer.from(' '));
      });
      expect(res.status).toBe(413);
      expect(rpcError(res.body).error).toMatchObject({ code: CommandErrorCodes.tooLarge, data: { code: 'PYTI_INPUT_TOO_LARGE' } });
    });
  });
});
