/**
 * Reporting malicious verdicts to the index: a master configured with an observations token posts
 * one observation per audited file to the test index's danger API (PyPI's shape), with the job's
 * project and the master's own summary; a master without a token sends nothing, and neither does a
 * clean report. The slave here is a stand-in speaking the command API (its verdicts are not trusted).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMasterApp, loadMasterConfig, ManualClock, type AuditDetail, type MasterApp } from '@pyti/master';
import { COMMAND_PROTOCOL_VERSION } from '@pyti/common';
import { tinyReport, tinyWheel } from '../../master/src/testing/tiny-dists.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

const SLAVE = 'slave-token-0123456789';
const USER = 'user-token-0123456789';
const OBS = 'pypi-observations-token-0123';
const caps = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 2 };
const CRITICAL = { rule: 'sensitive-write', severity: 'critical', phase: 'build', title: 'build writes ~/.ssh/authorized_keys', evidence: [] };

let tmp: string;
let index: IndexServer;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'pyti-obs-'));
  const files = ['evil_pkg', 'good_pkg'].map((n) => {
    const w = tinyWheel(n, '1.0');
    writeFileSync(join(tmp, w.filename), w.bytes);
    return join(tmp, w.filename);
  });
  index = await startIndexServer({ files, observationsToken: OBS });
});
afterAll(async () => {
  await index.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function startMaster(token: string | undefined, retry?: { maxAttempts: number; retryMs: number; fetch?: typeof fetch }): Promise<{ m: MasterApp; clock: ManualClock; data: string }> {
  const data = mkdtempSync(join(tmp, 'master-'));
  const clock = new ManualClock();
  const config = loadMasterConfig({ data, port: 0, slaveToken: [`s:${SLAVE}`], indexUrl: index.url, observationsToken: token }, { PYTI_USER_TOKEN: USER });
  const m = await buildMasterApp(config, { clock, sweepIntervalMs: 0, observations: { everyMs: 0, log: () => undefined, ...retry } });
  await m.listen();
  return { m, clock, data };
}

async function rpc(m: MasterApp, method: string, params: unknown): Promise<any> {
  const res = await fetch(`${m.url}/rpc/v1`, { method: 'POST', headers: { authorization: `Bearer ${SLAVE}`, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const j = (await res.json()) as { result?: unknown; error?: unknown };
  if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result;
}

/** Submits `project` 1.0 by name (forced: the same file is audited again on purpose), leases it as the stand-in slave and completes it with `report`. */
async function audit(m: MasterApp, project: string, report: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${m.url}/api/v1/audits`, { method: 'POST', headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' }, body: JSON.stringify({ project, version: '1.0', force: true }) });
  const { id } = (await res.json()) as { id: string };
  await rpc(m, 'slave.register', { protocolVersion: COMMAND_PROTOCOL_VERSION, version: '0.1.0', host: 'h', capabilities: caps });
  const { jobs } = await rpc(m, 'jobs.lease', { max: 1, waitMs: 0 });
  await rpc(m, 'jobs.complete', { leaseId: jobs[0].leaseId, outcome: { kind: 'report', report, artifacts: [] } });
  return id;
}

async function detail(m: MasterApp, id: string): Promise<AuditDetail> {
  return (await (await fetch(`${m.url}/api/v1/audits/${id}`, { headers: { authorization: `Bearer ${USER}` } })).json()) as AuditDetail;
}

const evilReport = (filename = 'evil_pkg-1.0-py3-none-any.whl') =>
  ({ ...tinyReport('evil_pkg', '1.0', 'clean'), distribution: { filename, name: 'evil_pkg', version: '1.0', kind: 'wheel', sha256: 'cd'.repeat(32), sizeBytes: 1, requiresDist: [] }, findings: [CRITICAL] });

describe('observations sent to the index', () => {
  it('a malicious report (that the slave called clean) → one observation with the project and summary, once per file', async () => {
    const { m } = await startMaster(OBS);
    try {
      const before = index.observations.length;
      const id = await audit(m, 'evil-pkg', evilReport());
      await m.observations.sender!.sendDue(); // (the master also sends it on its own, soon after the report is stored)
      const got = index.observations.slice(before);
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({ project: 'evil-pkg', kind: 'is_malware', inspector_url: 'https://inspector.pypi.io/project/evil-pkg/1.0/' });
      expect(got[0]!.summary).toContain('evil_pkg-1.0-py3-none-any.whl');
      expect(got[0]!.summary).toContain('malicious, score 100');
      expect(got[0]!.summary).toContain('build writes ~/.ssh/authorized_keys');
      const d = await detail(m, id);
      expect(d).toMatchObject({ verdict: 'malicious', score: 100, observation: { state: 'sent', attempts: 1, error: null, jobId: id } });
      const page = await (await fetch(`${m.url}/audits/${id}`, { headers: { authorization: `Bearer ${USER}` } })).text();
      expect(page).toContain('class="obs-sent"');

      // The same file audited again: no second observation; its page shows the first one's.
      const again = await audit(m, 'evil-pkg', evilReport());
      await m.observations.sender!.sendDue();
      expect(index.observations.length).toBe(before + 1);
      expect((await detail(m, again)).observation).toMatchObject({ state: 'sent', jobId: id });

      // A clean report sends nothing.
      const good = await audit(m, 'good-pkg', { ...tinyReport('good_pkg', '1.0', 'clean') });
      await m.observations.sender!.sendDue();
      expect(index.observations.length).toBe(before + 1);
      expect((await detail(m, good))).toMatchObject({ verdict: 'clean', observation: null });
    } finally {
      await m.close();
    }
  });

  it('no token → nothing is sent', async () => {
    const { m } = await startMaster(undefined);
    try {
      const before = index.observations.length;
      const id = await audit(m, 'evil-pkg', evilReport('evil_pkg-1.0.tar.gz'));
      expect(m.observations.sender).toBeNull();
      expect(m.observations.store.all()).toEqual([]);
      expect(await detail(m, id)).toMatchObject({ verdict: 'malicious', observation: null });
      expect(index.observations.length).toBe(before);
    } finally {
      await m.close();
    }
  });

  it('a refused token fails with the index\'s reason; an unreachable index is retried, then failed', async () => {
    const { m } = await startMaster('wrong-token-0123456789');
    try {
      const id = await audit(m, 'evil-pkg', evilReport('evil_pkg-1.0.zip'));
      await m.observations.sender!.sendDue();
      expect((await detail(m, id)).observation).toMatchObject({ state: 'failed', attempts: 1, error: expect.stringContaining('HTTP 403') });
    } finally {
      await m.close();
    }
    // An index that cannot be reached: a fetch that cannot connect.
    const down = await startMaster(OBS, { maxAttempts: 2, retryMs: 1000, fetch: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9')) });
    try {
      const id = await audit(down.m, 'evil-pkg', evilReport('evil_pkg-1.0-py2-none-any.whl'));
      await down.m.observations.sender!.sendDue();
      expect((await detail(down.m, id)).observation).toMatchObject({ state: 'pending', attempts: 1, error: expect.stringContaining('ECONNREFUSED') });
      down.clock.advance(999);
      expect(await down.m.observations.sender!.sendDue()).toBe(0);
      expect((await detail(down.m, id)).observation).toMatchObject({ attempts: 1 });
      down.clock.advance(1);
      await down.m.observations.sender!.sendDue();
      expect((await detail(down.m, id)).observation).toMatchObject({ state: 'failed', attempts: 2 });
    } finally {
      await down.m.close();
    }
  });
});
