/**
 * Test helpers for notifications and report checks: a master on a real socket in a temporary data
 * directory, the command API spoken as a slave would (register, lease, complete), and a local HTTP
 * receiver on 127.0.0.1 whose answers a test scripts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMasterConfig, type MasterFlags } from '../config.js';
import { buildMasterApp, type MasterApp, type MasterAppOptions } from '../http/master-app.js';
import type { AuditDetail } from '../user-api.js';

export const KIT_USER = 'user-token-0123456789';
export const KIT_SLAVES: Record<string, string> = { s1: 's1-token-0123456789', s2: 's2-token-0123456789' };
const CAPS = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 2 };

/** A master for a test, with the calls tests make. */
export interface KitMaster {
  m: MasterApp;
  dir: string;
  url: string;
  /** A user API call with the user token (or `token`). */
  api(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  /** One JSON-RPC call as slave `slave`; the whole response (`result` or `error`). */
  rpc(slave: string, method: string, params: unknown): Promise<{ result?: any; error?: any }>;
  register(slave: string): Promise<void>;
  /** Submits `project==version`, leases it as `slave`, completes it with `report`; returns the complete answer and the audit id. */
  audit(project: string, version: string, report: unknown, slave?: string): Promise<{ id: string; complete: { result?: any; error?: any } }>;
  detail(id: string): Promise<AuditDetail>;
  /** Closes the master (and removes its data unless `keep`). */
  close(keep?: boolean): Promise<void>;
}

/** Starts a master on 127.0.0.1:0 (in `dir`, a fresh temporary directory by default; `env`: its environment besides the user token). */
export async function startKitMaster(
  flags: MasterFlags = {}, options: MasterAppOptions = {}, dir = mkdtempSync(join(tmpdir(), 'pyti-notify-')), env: Record<string, string> = {},
): Promise<KitMaster> {
  const config = loadMasterConfig({
    data: dir, port: 0, leaseMs: 10_000, heartbeatMs: 1000, maxWaitMs: 1000, maxAttempts: 3,
    slaveToken: Object.entries(KIT_SLAVES).map(([n, t]) => `${n}:${t}`), rssPollMs: 0, indexUrl: 'https://index.invalid', follow: false, ...flags,
  }, { PYTI_USER_TOKEN: KIT_USER, ...env });
  const m = await buildMasterApp(config, { sweepIntervalMs: 0, ...options });
  const url = await m.listen();
  let id = 1;
  const k: KitMaster = {
    m, dir, url,
    async api(method, path, body, token = KIT_USER) {
      const res = await fetch(`${url}${path}`, {
        method, redirect: 'manual',
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async rpc(slave, method, params) {
      const res = await fetch(`${url}/rpc/v1`, {
        method: 'POST', headers: { authorization: `Bearer ${KIT_SLAVES[slave]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: id++, method, params }),
      });
      return (await res.json()) as { result?: unknown; error?: unknown };
    },
    async register(slave) {
      const r = await k.rpc(slave, 'slave.register', { protocolVersion: 1, version: '0.1.0', host: 'h', capabilities: CAPS });
      if (r.error) throw new Error(JSON.stringify(r.error));
    },
    async audit(project, version, report, slave = 's1') {
      const sub = await k.api('POST', '/api/v1/audits', { project, version });
      if (sub.status !== 202) throw new Error(`submit: ${sub.text}`);
      await k.register(slave);
      const lease = await k.rpc(slave, 'jobs.lease', { max: 1, waitMs: 0 });
      const job = lease.result?.jobs?.[0];
      if (!job || job.jobId !== sub.body.id) throw new Error(`lease: ${JSON.stringify(lease)}`);
      const complete = await k.rpc(slave, 'jobs.complete', { leaseId: job.leaseId, outcome: { kind: 'report', report, artifacts: [] } });
      return { id: sub.body.id as string, complete };
    },
    async detail(auditId) {
      return (await k.api('GET', `/api/v1/audits/${auditId}`)).body as AuditDetail;
    },
    async close(keep = false) {
      await m.close();
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
  return k;
}

/** One request a receiver got. */
export interface Received {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An HTTP receiver on 127.0.0.1: `answer` decides each response (status, headers, body; `hang`: never answer). */
export interface Receiver {
  url: string;
  port: number;
  got: Received[];
  close(): Promise<void>;
}

export async function startReceiver(
  answer: (r: Received, n: number) => { status: number; headers?: Record<string, string>; body?: string; hang?: boolean },
  port = 0,
): Promise<Receiver> {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { at: Date.now(), path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      got.push(r);
      const a = answer(r, got.filter((g) => g.path === r.path).length);
      if (a.hang) return;
      res.writeHead(a.status, a.headers ?? {}).end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const p = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${p}`, port: p, got,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
