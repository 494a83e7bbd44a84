// `pyti submit|status|report` and the user-API client against the real master, in-process. A job is
// completed through the command API by a stand-in slave (the end-to-end test runs real slaves).
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMasterApp, loadMasterConfig, UserClient, type MasterApp } from '@pyti/master';
import { main, type CliIO } from '@pyti/master/cli';
import { COMMAND_BLOB_PATH, COMMAND_PROTOCOL_VERSION, COMMAND_RPC_PATH, type AuditReport, type LeasedJob } from '@pyti/common';
import { buildFixture } from './fixture-dists.js';

const SLAVE_TOKEN = 'slave-a-token-0123456789';
const USER_TOKEN = 'user-token-0123456789';

function io(env: Record<string, string | undefined> = {}): CliIO & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', isTTY: false, env, out: (s: string) => (o.stdout += s), err: (s: string) => (o.stderr += s) };
  return o;
}

let dir: string;
let master: MasterApp;
let url: string;
let sdist: string;
const conn = (): string[] => ['--master', url, '--token', USER_TOKEN];

async function rpc<T>(method: string, params: unknown): Promise<T> {
  const res = await fetch(`${url}${COMMAND_RPC_PATH}`, {
    method: 'POST', headers: { authorization: `Bearer ${SLAVE_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const j = (await res.json()) as { result?: T; error?: unknown };
  if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result!;
}

async function putBlob(bytes: Buffer): Promise<{ sha256: string; sizeBytes: number }> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const res = await fetch(`${url}${COMMAND_BLOB_PATH}/${sha256}`, { method: 'PUT', headers: { authorization: `Bearer ${SLAVE_TOKEN}`, 'content-type': 'application/octet-stream' }, body: bytes });
  expect(res.status).toBeLessThan(300);
  return { sha256, sizeBytes: bytes.length };
}

function flaggedReport(): AuditReport {
  return {
    schemaVersion: 1, tool: { name: 'pyti', version: '0.1.0' },
    distribution: { filename: 'curl_spawner-1.0.tar.gz', name: 'curl-spawner', version: '1.0', kind: 'sdist', sha256: 'ab'.repeat(32), sizeBytes: 1000, requiresDist: [] },
    backend: { name: 'bwrap', isolation: 'namespaces', network: 'none' }, result: 'pass',
    verdict: 'flagged' as AuditReport['verdict'], score: 0, scoreReasons: [], maxSeverity: 'high', // an older slave's verdict: the master re-judges it
    tasks: [{ id: 'import', status: 'pass', durationMs: 1200, title: 'import the package', failurePolicy: 'flunk' } as AuditReport['tasks'][number]],
    traces: {},
    findings: [{ rule: 'suspicious-spawn', severity: 'high', phase: 'import', title: 'import spawns curl', evidence: [{ phase: 'import', seq: 3, line: 42, pid: 7, summary: 'execve curl http://example.invalid' }] }],
    timings: { startedAt: new Date().toISOString(), totalMs: 5000 }, rawFiles: ['raw/import/strace.log'],
  };
}

/** Leases the one queued job as `slave-a`, reports progress, uploads an artifact and completes it. */
async function runOneJob(): Promise<void> {
  const { jobs } = await rpc<{ jobs: LeasedJob[] }>('jobs.lease', { max: 1, waitMs: 5000 });
  expect(jobs).toHaveLength(1);
  const { leaseId } = jobs[0]!;
  await rpc('jobs.progress', { leaseId, events: [{ at: Date.now(), kind: 'phase', phase: 'auditing' }, { at: Date.now(), kind: 'task-started', task: 'install' }] });
  await new Promise((r) => setTimeout(r, 1500));
  const art = await putBlob(Buffer.from('execve("/usr/bin/curl", ...) = 0\n'));
  await rpc('jobs.complete', { leaseId, outcome: { kind: 'report', report: flaggedReport(), artifacts: [{ name: 'raw/import/strace.log', ...art }] } });
}

beforeAll(async () => {
  sdist = buildFixture('curl-spawner', 'sdist');
  dir = mkdtempSync(join(tmpdir(), 'pyti-master-cli-'));
  const config = loadMasterConfig({ data: join(dir, 'data'), port: 0, userToken: USER_TOKEN, slaveToken: [`slave-a:${SLAVE_TOKEN}`] }, {});
  master = await buildMasterApp(config, { sweepIntervalMs: 0 });
  url = (await master.listen()).replace(/\/$/, '');
  await rpc('slave.register', {
    protocolVersion: COMMAND_PROTOCOL_VERSION, version: 'test', host: 'test',
    capabilities: { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 1 },
  });
});
afterAll(async () => {
  await master?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('pyti submit|status|report against a master', () => {
  it('submits an upload, lists it, refuses its report until done, then waits for it and saves the report', async () => {
    const s = io({ PYTI_MASTER_URL: url, PYTI_TOKEN: USER_TOKEN });
    expect(await main(['submit', sdist, '--priority', '5'], s)).toBe(0);
    const id = s.stdout.split('\n')[0]!;
    expect(s.stdout).toContain(`${url}/audits/${id}`);

    const st = io();
    expect(await main(['status', ...conn()], st)).toBe(0);
    expect(st.stdout).toMatch(new RegExp(`^${id}\\s+queued\\s`, 'm'));
    expect(st.stdout).toContain('curl-spawner');

    const early = io();
    expect(await main(['report', id, ...conn()], early)).toBe(2);
    expect(early.stderr).toContain(`pyti: error PYTI_REPORT_NOT_READY: audit ${id} is queued`);

    // Waiting on a second (forced) submission while a stand-in slave runs the first, then the second.
    const w = io();
    const waiting = main(['submit', sdist, '--force', '--wait', ...conn()], w); // the same bytes again: a second audit only when forced
    await runOneJob();
    await runOneJob();
    expect(await waiting).toBe(3); // the master re-judges: one high finding is suspicious
    expect(w.stderr).toMatch(/\[\s+\d+\.\ds\] running on slave-a: install/);
    expect(w.stdout).toContain('SUSPICIOUS  curl-spawner 1.0');
    expect(w.stdout).toContain('import spawns curl');

    const out = join(dir, 'report-out');
    const r = io();
    expect(await main(['report', id, '--out', out, ...conn()], r)).toBe(3);
    expect(r.stdout).toContain('SUSPICIOUS');
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).toMatchObject({ verdict: 'suspicious', score: 40 });
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('import spawns curl');
    expect(readFileSync(join(out, 'raw/import/strace.log'), 'utf8')).toContain('curl');

    const d = io();
    expect(await main(['status', id, '--json', ...conn()], d)).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ id, state: 'done', verdict: 'suspicious', score: 40, source: 'upload', priority: 5, slave: 'slave-a', findings: 1 });

    // The pages the master serves from the renderers.
    const client = new UserClient({ url, token: USER_TOKEN });
    expect((await client.list({ state: 'done' })).map((a) => a.id)).toContain(id);
    const page = await fetch(`${url}/?token=${USER_TOKEN}`, { redirect: 'manual' });
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const list = await (await fetch(`${url}/`, { headers: { cookie } })).text();
    expect(list).toContain(`<tr id="audit-${id}" class="tone-orange"`);
    const one = await (await fetch(`${url}/audits/${id}`, { headers: { cookie } })).text();
    expect(one).toContain('<iframe id="report"');
  });

  it('submits by name (the slave resolves it on the index)', async () => {
    const o = io();
    expect(await main(['submit', 'idx-app==1.0', '--json', ...conn()], o)).toBe(0);
    expect(JSON.parse(o.stdout)).toMatchObject({ source: 'index', project: 'idx-app', version: '1.0', state: 'queued' });
    const c = io();
    expect(await main(['status', '--state', 'queued', ...conn()], c)).toBe(0);
    expect(c.stdout).toContain('idx-app');
  });

  it('refuses a bad token with exit 2 and PYTI_AUTH', async () => {
    for (const argv of [['status'], ['submit', sdist]]) {
      const o = io();
      expect(await main([...argv, '--master', url, '--token', 'wrong-token-123456'], o)).toBe(2);
      expect(o.stderr).toContain('pyti: error PYTI_AUTH:');
    }
  });

  it('says which audit does not exist', async () => {
    const o = io();
    expect(await main(['report', 'no-such-audit', ...conn()], o)).toBe(2);
    expect(o.stderr).toContain('PYTI_JOB_NOT_FOUND');
  });

  it('reports an unreachable master, and usage errors with 64', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    const o = io();
    expect(await main(['status', '--master', `http://127.0.0.1:${port}`, '--token', USER_TOKEN], o)).toBe(2);
    expect(o.stderr).toContain('pyti: error PYTI_MASTER_UNREACHABLE:');
    const u = io();
    expect(await main(['submit', sdist, '--priority', 'high', ...conn()], u)).toBe(64);
    expect(u.stderr).toContain('PYTI_USAGE');
  });
});
