/**
 * A real master on a socket for tests of project history, diffs and list filters: audits are
 * submitted through the user API and completed through the command API by a stand-in slave with a
 * given report (real reports captured from `pyti audit`, see ../diff/fixtures).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditReport } from '@pyti/common';
import { loadMasterConfig } from '../config.js';
import { buildMasterApp, type MasterApp } from '../http/master-app.js';
import type { AuditSummary } from '../user-api.js';

export const KIT_USER_TOKEN = 'user-token-history-0123456789';
const SLAVES: Record<string, string> = { 'slave-a': 'slave-a-token-history-0123', 'slave-b': 'slave-b-token-history-0123' };
const CAPS = { backends: ['bwrap', 'qemu'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 1 };

/** A captured real report of the diffdemo fixture (`1.0`: clean; `1.1`: phones home at import, suspicious). */
export function diffdemoReport(version: '1.0' | '1.1'): AuditReport {
  return JSON.parse(readFileSync(new URL(`../diff/fixtures/diffdemo-${version}.report.json`, import.meta.url), 'utf8')) as AuditReport;
}

/** A copy of `base` as the report of `project` `version`. */
export function reportAs(base: AuditReport, project: string, version: string): AuditReport {
  const r = structuredClone(base);
  r.distribution = { ...r.distribution, name: project, version, filename: `${project.replace(/-/g, '_')}-${version}.tar.gz` };
  return r;
}

export class HistoryKit {
  private rpcId = 1;
  private constructor(readonly master: MasterApp, readonly url: string, private readonly dir: string) {}

  static async start(): Promise<HistoryKit> {
    const dir = mkdtempSync(join(tmpdir(), 'pyti-history-'));
    const config = loadMasterConfig({ data: join(dir, 'data'), port: 0, follow: false, slaveToken: Object.entries(SLAVES).map(([n, t]) => `${n}:${t}`) }, { PYTI_USER_TOKEN: KIT_USER_TOKEN });
    const master = await buildMasterApp(config, { sweepIntervalMs: 0 });
    const url = (await master.listen()).replace(/\/$/, '');
    const kit = new HistoryKit(master, url, dir);
    for (const slave of Object.keys(SLAVES)) {
      await kit.rpc(slave, 'slave.register', { protocolVersion: 1, version: 'test', host: 'test', capabilities: CAPS });
    }
    return kit;
  }

  /** The master's database file (for tests that link audits to a subscription as the feed follower would). */
  get dbFile(): string {
    return join(this.dir, 'data', 'master.db');
  }

  async close(): Promise<void> {
    await this.master.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async rpc<T>(slave: string, method: string, params: unknown): Promise<T> {
    const res = await fetch(`${this.url}/rpc/v1`, {
      method: 'POST', headers: { authorization: `Bearer ${SLAVES[slave]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: this.rpcId++, method, params }),
    });
    const j = (await res.json()) as { result?: T; error?: unknown };
    if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
    return j.result!;
  }

  /** A user API request (with the user token unless `token` is null). */
  async get(path: string, token: string | null = KIT_USER_TOKEN): Promise<{ status: number; body: string; json: () => any; headers: Headers }> {
    const res = await fetch(`${this.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, redirect: 'manual' });
    const body = await res.text();
    return { status: res.status, body, json: () => JSON.parse(body), headers: res.headers };
  }

  /** Submits `project==version` (by name), forced: these tests re-audit a release on purpose (one audit per file otherwise). */
  async submit(project: string, version: string, backend = 'bwrap'): Promise<AuditSummary> {
    const res = await fetch(`${this.url}/api/v1/audits`, {
      method: 'POST', headers: { authorization: `Bearer ${KIT_USER_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ project, version, backend, force: true }),
    });
    if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
    return (await res.json()) as AuditSummary;
  }

  /** Submits and completes one audit on `slave` with `report`; resolves to its id. Only one audit may be queued. */
  async audit(project: string, version: string, report: AuditReport, opts: { slave?: string; backend?: string } = {}): Promise<string> {
    const s = await this.submit(project, version, opts.backend);
    const slave = opts.slave ?? 'slave-a';
    const { jobs } = await this.rpc<{ jobs: { jobId: string; leaseId: string }[] }>(slave, 'jobs.lease', { max: 1, waitMs: 0 });
    if (jobs.length !== 1 || jobs[0]!.jobId !== s.id) throw new Error(`leased ${JSON.stringify(jobs)} instead of ${s.id}`);
    await this.rpc(slave, 'jobs.complete', { leaseId: jobs[0]!.leaseId, outcome: { kind: 'report', report, artifacts: [] } });
    return s.id;
  }
}
