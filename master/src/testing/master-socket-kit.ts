/**
 * A real master on a socket for tests of pages and routes (Fastify's inject cannot load its ESM-only
 * `cookie` dependency under Jest's VM modules): requests with fetch, no redirects followed; the
 * command API driven as a slave would (register, lease, heartbeat, complete).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMasterConfig, type MasterFlags } from '../config.js';
import { buildMasterApp, type MasterApp, type MasterAppOptions } from '../http/master-app.js';

export const KIT_USER = 'user-token-0123456789';
export const KIT_SLAVES = { s1: 's1-token-0123456789', s2: 's2-token-0123456789' } as const;
export const KIT_CAPS = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 2 };

export interface KitResponse { status: number; body: string; headers: Record<string, string>; json(): any }

/** Where and how a kit's master starts. */
export interface MasterKitPlace {
  /** Its data directory, also the kit's scratch directory (default: `master/` in a fresh temporary one); a test restarts a master on the same data with it. */
  dataDir?: string;
  /** Its environment besides the user token. */
  env?: Record<string, string>;
}

/** A started master in a fresh data directory (or `place.dataDir`), with helpers. */
export class MasterKit {
  private nextId = 1;
  /** `dir`: the test's scratch directory, removed on close; `dataDir`: the master's data in it. */
  private constructor(readonly dir: string, readonly dataDir: string, readonly m: MasterApp) {}

  static async start(flags: MasterFlags = {}, options: MasterAppOptions = {}, place: MasterKitPlace = {}): Promise<MasterKit> {
    const dir = place.dataDir ?? mkdtempSync(join(tmpdir(), 'pyti-kit-'));
    const dataDir = place.dataDir ?? join(dir, 'master');
    const config = loadMasterConfig({
      data: dataDir, port: 0, leaseMs: 10_000, heartbeatMs: 1000, maxWaitMs: 3000, maxAttempts: 2, follow: false,
      slaveToken: Object.entries(KIT_SLAVES).map(([n, t]) => `${n}:${t}`), ...flags,
    }, { PYTI_USER_TOKEN: KIT_USER, ...place.env });
    const m = await buildMasterApp(config, { sweepIntervalMs: 0, ...options });
    await m.listen();
    return new MasterKit(dir, dataDir, m);
  }

  get url(): string {
    return this.m.url!;
  }

  /** Closes the master and removes its scratch directory (unless `keep`: a test starts another master on its data). */
  async close(keep = false): Promise<void> {
    await this.m.close();
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }

  /** One request; `body` objects are sent as JSON. */
  async request(method: string, path: string, o: { body?: unknown; headers?: Record<string, string>; token?: string | null } = {}): Promise<KitResponse> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const token = o.token === undefined ? KIT_USER : o.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | Buffer | undefined;
    if (Buffer.isBuffer(o.body) || typeof o.body === 'string') body = o.body;
    else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(new URL(path, this.url), { method, headers, body: Buffer.isBuffer(body) ? new Uint8Array(body) : body, redirect: 'manual' });
    const text = await res.text();
    const h: Record<string, string> = {};
    res.headers.forEach((v, k) => { h[k] = v; });
    return { status: res.status, body: text, headers: h, json: () => JSON.parse(text) };
  }

  /** A JSON-RPC call with a slave's token; the whole answer (`result` or `error`). */
  async rpcAnswer(slave: keyof typeof KIT_SLAVES, method: string, params: unknown): Promise<{ result?: any; error?: any }> {
    return (await this.request('POST', '/rpc/v1', { token: KIT_SLAVES[slave], body: { jsonrpc: '2.0', id: this.nextId++, method, params } })).json();
  }

  /** A JSON-RPC call with a slave's token; throws on an error answer. */
  async rpc(slave: keyof typeof KIT_SLAVES, method: string, params: unknown): Promise<any> {
    const j = await this.rpcAnswer(slave, method, params);
    if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
    return j.result;
  }

  register(slave: keyof typeof KIT_SLAVES, host = 'h', caps: Record<string, unknown> = KIT_CAPS): Promise<any> {
    return this.rpc(slave, 'slave.register', { protocolVersion: 1, version: '0.1.0', host, capabilities: caps });
  }

  async lease(slave: keyof typeof KIT_SLAVES, max = 1): Promise<{ jobId: string; leaseId: string }[]> {
    return (await this.rpc(slave, 'jobs.lease', { max, waitMs: 0 })).jobs;
  }
}
