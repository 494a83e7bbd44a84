/**
 * Test helpers for notifications and report checks: a master on a real socket in a temporary data
 * directory, the command API spoken as a slave would (register, lease, complete), and a local HTTP
 * receiver on 127.0.0.1 whose answers a test scripts.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MasterFlags } from '../config.js';
import type { MasterApp, MasterAppOptions } from '../http/master-app.js';
import { KIT_SLAVES, KIT_USER, MasterKit } from './master-socket-kit.js';
import type { AuditDetail } from '../user-api.js';

export { KIT_SLAVES, KIT_USER };

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

/**
 * Starts a master on 127.0.0.1:0 (in `dir`, a fresh temporary directory by default; `env`: its
 * environment besides the user token) that follows no index: the MasterKit's, with the calls these tests make.
 */
export async function startKitMaster(flags: MasterFlags = {}, options: MasterAppOptions = {}, dir?: string, env: Record<string, string> = {}): Promise<KitMaster> {
  const kit = await MasterKit.start({ maxWaitMs: 1000, maxAttempts: 3, rssPollMs: 0, indexUrl: 'https://index.invalid', ...flags }, options, { dataDir: dir ?? mkdtempSync(join(tmpdir(), 'pyti-notify-')), env });
  const k: KitMaster = {
    m: kit.m, dir: kit.dataDir, url: kit.url,
    async api(method, path, body, token = KIT_USER) {
      const r = await kit.request(method, path, { body, token });
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(r.body);
      } catch {
        parsed = null;
      }
      return { status: r.status, body: parsed, text: r.body, headers: new Headers(r.headers) };
    },
    async rpc(slave, method, params) {
      return (await kit.rpcAnswer(slave as keyof typeof KIT_SLAVES, method, params)) as { result?: unknown; error?: unknown };
    },
    async register(slave) {
      await kit.register(slave as keyof typeof KIT_SLAVES);
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
    close: (keep = false) => kit.close(keep),
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
