import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadMasterConfig, type MasterFlags } from '../config.js';
import { ManualClock } from '../queue/clock.js';
import { tinyReport, tinyWheel } from '../testing/tiny-dists.js';
import type { AuditDetail, AuditSummary } from '../user-api.js';
import { buildMasterApp, type MasterApp } from './master-app.js';
import { testStores } from '../testing/store-kit.js';

const stores = testStores();

const S1 = 's1-token-0123456789';
const S2 = 's2-token-0123456789';
const USER = 'user-token-0123456789';
const LEASE = 10_000;
const caps = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 2 };
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');


/** Fastify's inject (light-my-request) cannot load its ESM-only `cookie` dependency under Jest's VM
 * modules, so these tests talk to a real socket with the same small surface. */
interface Injected { statusCode: number; body: string; rawPayload: Buffer; headers: Record<string, string>; json(): any }
async function injectInto(base: string, o: { method: string; url: string; payload?: unknown; headers?: Record<string, string> }): Promise<Injected> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  let body: string | Buffer | undefined;
  if (Buffer.isBuffer(o.payload) || typeof o.payload === 'string') body = o.payload;
  else if (o.payload !== undefined) {
    body = JSON.stringify(o.payload);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(new URL(o.url, base), { method: o.method, headers, body, redirect: 'manual' });
  const raw = Buffer.from(await res.arrayBuffer());
  const h: Record<string, string> = {};
  res.headers.forEach((v, k) => { h[k] = v; });
  return { statusCode: res.status, body: raw.toString('utf8'), rawPayload: raw, headers: h, json: () => JSON.parse(raw.toString('utf8')) };
}

describe.each(stores.kinds)('master app on %s (in-process)', (kind) => {
  let dir: string;
  let database: string | undefined;
  let clock: ManualClock;
  let m: MasterApp;
  const inject = (o: Parameters<typeof injectInto>[1]) => injectInto(m.url!, o);

  async function start(flags: MasterFlags = {}): Promise<MasterApp> {
    const config = loadMasterConfig({
      data: dir, database, port: 0, leaseMs: LEASE, heartbeatMs: 1000, maxWaitMs: 3000, maxAttempts: 2, slaveToken: [`s1:${S1}`, `s2:${S2}`], ...flags,
    }, { PYTI_USER_TOKEN: USER });
    const app = await buildMasterApp(config, { clock, sweepIntervalMs: 0 });
    await app.listen();
    return app;
  }

  async function rpcRaw(token: string | null, body: string) {
    const res = await inject({ method: 'POST', url: '/rpc/v1', payload: body, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
  }
  let nextId = 1;
  async function rpc(token: string, method: string, params: unknown) {
    return (await rpcRaw(token, JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }))).body;
  }
  async function ok(token: string, method: string, params: unknown) {
    const r = await rpc(token, method, params);
    if (r.error) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
    return r.result;
  }
  const register = (token: string) => ok(token, 'slave.register', { protocolVersion: 1, version: '0.1.0', host: 'h', capabilities: caps });
  const api = (method: 'GET' | 'POST', url: string, payload?: unknown, token: string | null = USER) =>
    inject({ method, url, ...(payload !== undefined ? { payload: payload as object } : {}), headers: token ? { authorization: `Bearer ${token}` } : {} });
  const submit = async (project: string, priority = 0): Promise<AuditSummary> => {
    const res = await api('POST', '/api/v1/audits', { project, version: '1.0', priority });
    expect(res.statusCode).toBe(202);
    return res.json();
  };
  async function putBlob(token: string, data: Buffer, name = sha(data)) {
    return inject({ method: 'PUT', url: `/rpc/v1/blobs/${name}`, payload: data, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' } });
  }
  const reportOutcome = (name: string, verdict: 'clean' | 'failed' = 'clean', artifacts: unknown[] = []) =>
    ({ kind: 'report', report: tinyReport(name, '1.0', verdict, verdict === 'clean' ? 'pass' : 'build-fail'), artifacts });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-master-'));
    database = kind === 'postgres' ? await stores.location('postgres') : undefined;
    clock = new ManualClock();
    m = await start();
  });
  afterEach(async () => {
    await m.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates tokens.json 0600 with a user token and a slave token; env and flags add to it', () => {
    expect(statSync(join(dir, 'tokens.json')).mode & 0o777).toBe(0o600);
    expect(m.tokens.user).toBe(USER);
    expect(Object.keys(m.tokens.slaves).sort()).toEqual(['local', 's1', 's2']);
  });

  describe('command API', () => {
    it('refuses a missing or wrong token with 401 and PYTI_AUTH (user tokens are not slave tokens)', async () => {
      for (const token of [null, 'nope-nope-nope', USER]) {
        const r = await rpcRaw(token, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'jobs.lease', params: { max: 1, waitMs: 0 } }));
        expect(r.status).toBe(401);
        expect(r.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32001, data: { code: 'PYTI_AUTH' } } });
      }
      expect((await putBlob('nope-nope-nope', Buffer.from('x'))).statusCode).toBe(401);
    });

    it('answers malformed JSON, non-requests, unknown methods and bad params with JSON-RPC errors', async () => {
      expect((await rpcRaw(S1, '{"jsonrpc":')).body).toMatchObject({ id: null, error: { code: -32700, data: { code: 'PYTI_RPC_INVALID' } } });
      expect((await rpcRaw(S1, '[]')).body.error.code).toBe(-32600);
      expect((await rpcRaw(S1, '{"id":1,"method":"jobs.lease"}')).body).toMatchObject({ id: 1, error: { code: -32600 } });
      expect(await rpc(S1, 'jobs.steal', {})).toMatchObject({ error: { code: -32601, data: { code: 'PYTI_RPC_INVALID' } } });
      const bad = await rpc(S1, 'slave.register', { protocolVersion: 1, version: '1', host: 'h', capabilities: { ...caps, backends: 'bwrap' } });
      expect(bad.error).toMatchObject({ code: -32602, data: { code: 'PYTI_RPC_INVALID', field: 'capabilities.backends' } });
      expect(bad.error.message).toContain('capabilities.backends');
      expect((await rpc(S1, 'slave.register', { protocolVersion: 99, version: '1', host: 'h', capabilities: caps })).error.code).toBe(-32013);
      expect((await rpc(S1, 'jobs.lease', { max: 0, waitMs: 0 })).error.data.field).toBe('max');
      expect((await rpc(S1, 'jobs.lease', { max: 1, waitMs: 0 })).error).toMatchObject({ code: -32011, data: { code: 'PYTI_RPC_INVALID' } });
      await register(S1);
      expect((await rpc(S1, 'jobs.progress', { leaseId: 'x', events: [{ at: 1, kind: 'phase', phase: 'dancing' }] })).error.data.field).toBe('events.0.phase');
      expect((await rpc(S1, 'jobs.complete', { leaseId: 'x', outcome: { kind: 'report', report: { verdict: 'great', result: 'pass' }, artifacts: [] } })).error.data.field)
        .toBe('outcome.report.verdict');
      expect((await rpc(S1, 'jobs.complete', { leaseId: 'x', outcome: { kind: 'report', report: tinyReport('a', '1'), artifacts: [{ name: '../x', sha256: '0'.repeat(64), sizeBytes: 1 }] } })).error.data.field)
        .toBe('outcome.artifacts.0.name');
    });

    it('registers, leases by priority, heartbeats, records progress and completes with artifacts', async () => {
      expect(await register(S1)).toEqual({ slave: 's1', leaseMs: LEASE, heartbeatMs: 1000, maxWaitMs: 3000 });
      const low = await submit('low', -1);
      const high = await submit('high', 5);
      const { jobs } = await ok(S1, 'jobs.lease', { max: 5, waitMs: 0 });
      expect(jobs.map((j: { jobId: string }) => j.jobId)).toEqual([high.id, low.id]);
      const lease = jobs[0].leaseId as string;
      expect(await ok(S1, 'slave.heartbeat', { leases: [lease], draining: false })).toMatchObject({ extended: [{ leaseId: lease }], lost: [], commands: [] });
      expect(await ok(S1, 'jobs.progress', { leaseId: lease, events: [{ at: 1, kind: 'phase', phase: 'auditing' }, { at: 2, kind: 'log', text: 'x'.repeat(5000) }] })).toEqual({ valid: true });
      const running: AuditDetail = (await api('GET', `/api/v1/audits/${high.id}`)).json();
      expect(running.progress).toMatchObject({ phase: 'auditing' });
      expect(running.events[1]!.text.length).toBeLessThanOrEqual(2049);

      const raw = Buffer.from('execve("/bin/sh")\n');
      const art = { name: 'raw/install/strace.log', sha256: sha(raw), sizeBytes: raw.length };
      // Artifacts must be uploaded first.
      expect((await rpc(S1, 'jobs.complete', { leaseId: lease, outcome: reportOutcome('high', 'clean', [art]) })).error.data.field).toBe('outcome.artifacts.0.sha256');
      expect((await putBlob(S1, raw, sha('other'))).json()).toMatchObject({ error: { code: 'PYTI_BLOB_MISMATCH' } });
      expect((await putBlob(S1, raw)).statusCode).toBe(201);
      expect((await putBlob(S1, raw)).json()).toEqual({ sha256: art.sha256, sizeBytes: raw.length, stored: false });
      const testRequirements = {
        requirements: ['pytest-xdist[psutil]>=3', 'pytest'], sources: ['dependency-group:tests', 'pyti'],
        unresolved: [{ requirement: 'idx-absent>=1', reason: 'No matching distribution found for idx-absent>=1' }],
        relaxed: [{ requirement: 'pytest==7.2.0', relaxedTo: 'pytest' }],
      };
      const prefetch = { wheels: ['dep-1.0-py3-none-any.whl'], downloaded: 1, durationMs: 5, testRequirements };
      // A test-requirements summary of the wrong shape is refused, naming the field.
      for (const [bad, field] of [
        [{ ...testRequirements, sources: [] }, 'outcome.prefetch.testRequirements.sources'],
        [{ ...testRequirements, unresolved: [{ requirement: 'x' }] }, 'outcome.prefetch.testRequirements.unresolved.0.reason'],
        [{ ...testRequirements, requirements: [7, 8] }, 'outcome.prefetch.testRequirements.requirements.0'],
        [{ ...testRequirements, relaxed: [{ requirement: 'x==1' }] }, 'outcome.prefetch.testRequirements.relaxed.0.relaxedTo'],
      ] as const) {
        expect((await rpc(S1, 'jobs.complete', { leaseId: lease, outcome: { ...reportOutcome('high', 'clean', []), prefetch: { ...prefetch, testRequirements: bad } } })).error.data.field).toBe(field);
      }
      expect(await ok(S1, 'jobs.complete', { leaseId: lease, outcome: { ...reportOutcome('high', 'clean', [art]), prefetch } }))
        .toEqual({ stored: true });

      const done: AuditDetail = (await api('GET', `/api/v1/audits/${high.id}`)).json();
      expect(done).toMatchObject({ state: 'done', verdict: 'clean', result: 'pass', findings: 0, prefetch: { downloaded: 1 } });
      expect(done.prefetch).toEqual(prefetch); // stored and returned as the slave sent it
      expect(done.artifacts).toEqual([{ ...art, url: `/api/v1/audits/${high.id}/artifacts/raw/install/strace.log` }]);
      expect((await api('GET', done.artifacts[0]!.url)).body).toBe(raw.toString());
      const viaRaw = await api('GET', `/api/v1/audits/${high.id}/raw/install/strace.log`);
      expect(viaRaw.headers['content-type']).toMatch(/^text\/plain/);
      expect(viaRaw.body).toBe(raw.toString());
      expect((await api('GET', `/api/v1/audits/${high.id}/report.json`)).json()).toMatchObject({ verdict: 'clean', result: 'pass' });
      const html = await api('GET', `/api/v1/audits/${high.id}/report.html`);
      expect(html.headers['content-type']).toMatch(/^text\/html/);
      expect(html.body).toContain('<!doctype html>');
      expect((await api('GET', `/api/v1/audits/${low.id}/report.json`)).statusCode).toBe(404);
    });

    it('keeps foreign and expired leases out of reach, stores a late duplicate completion once', async () => {
      await register(S1);
      await register(S2);
      const job = await submit('p');
      const l1 = (await ok(S1, 'jobs.lease', { max: 1, waitMs: 0 })).jobs[0].leaseId;
      // Another slave cannot touch it, and cannot tell it from an unknown lease.
      const foreign = await rpc(S2, 'jobs.complete', { leaseId: l1, outcome: reportOutcome('p') });
      const unknown = await rpc(S2, 'jobs.complete', { leaseId: 'no-such-lease', outcome: reportOutcome('p') });
      expect(foreign.error).toMatchObject({ code: -32010, data: { code: 'PYTI_LEASE_LOST' } });
      expect(foreign.error.message.replace(/".*"/, '')).toBe(unknown.error.message.replace(/".*"/, ''));
      expect((await ok(S2, 'slave.heartbeat', { leases: [l1], draining: false })).lost).toEqual([l1]);
      // s1 goes quiet; the lease expires and s2 gets the job.
      clock.advance(LEASE + 1);
      expect((await ok(S1, 'slave.heartbeat', { leases: [l1], draining: false })).lost).toEqual([l1]);
      expect(await ok(S1, 'jobs.progress', { leaseId: l1, events: [] })).toEqual({ valid: false });
      const l2 = (await ok(S2, 'jobs.lease', { max: 1, waitMs: 0 })).jobs[0];
      expect(l2).toMatchObject({ jobId: job.id, attempt: 2 });
      // s1 was not dead after all: its late completion is stored, s2's lease is voided.
      expect(await ok(S1, 'jobs.complete', { leaseId: l1, outcome: reportOutcome('p', 'failed') })).toEqual({ stored: true });
      expect(await ok(S1, 'jobs.complete', { leaseId: l1, outcome: reportOutcome('p', 'failed') })).toEqual({ stored: false });
      expect(await ok(S2, 'slave.heartbeat', { leases: [l2.leaseId], draining: false }))
        .toEqual({ extended: [], lost: [l2.leaseId], commands: [{ kind: 'cancel', jobId: job.id, leaseId: l2.leaseId }] });
      expect(await ok(S2, 'jobs.complete', { leaseId: l2.leaseId, outcome: reportOutcome('p', 'clean') })).toEqual({ stored: false });
      expect((await api('GET', `/api/v1/audits/${job.id}`)).json()).toMatchObject({ state: 'done', verdict: 'failed', attempts: 2, slave: 's1' });
    });

    it('ends a job after its attempts with every reason', async () => {
      await register(S1);
      const job = await submit('p');
      const a = (await ok(S1, 'jobs.lease', { max: 1, waitMs: 0 })).jobs[0].leaseId;
      expect(await ok(S1, 'jobs.complete', { leaseId: a, outcome: { kind: 'error', code: 'PYTI_BACKEND_UNAVAILABLE', message: 'bwrap broke', retry: true } })).toEqual({ stored: true });
      await ok(S1, 'jobs.lease', { max: 1, waitMs: 0 });
      clock.advance(LEASE + 1);
      expect((await ok(S1, 'jobs.lease', { max: 1, waitMs: 0 })).jobs).toEqual([]);
      const s: AuditSummary = (await api('GET', `/api/v1/audits/${job.id}`)).json();
      expect(s).toMatchObject({ state: 'error', verdict: 'error', attempts: 2, error: { code: 'PYTI_ATTEMPTS_EXHAUSTED' } });
      expect(s.error!.attempts).toEqual([
        { attempt: 1, reason: 'PYTI_BACKEND_UNAVAILABLE: bwrap broke' },
        { attempt: 2, reason: 'lease expired: slave s1 stopped answering' },
      ]);
    });

    it('wakes a long-poll when a job is submitted', async () => {
      await register(S1);
      const t0 = Date.now();
      const pending = rpc(S1, 'jobs.lease', { max: 1, waitMs: 3000 });
      await new Promise((r) => setTimeout(r, 50));
      const job = await submit('late');
      const r = await pending;
      expect(r.result.jobs[0].jobId).toBe(job.id);
      expect(Date.now() - t0).toBeLessThan(2000);
    });

    it('lets a slave fetch only the uploads of jobs it leased', async () => {
      await register(S1);
      await register(S2);
      const w = tinyWheel('tinypkg', '1.0');
      const up = await inject({ method: 'POST', url: `/api/v1/audits/upload?filename=${w.filename}`, payload: w.bytes, headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/octet-stream' } });
      expect(up.statusCode).toBe(202);
      const job = (await ok(S1, 'jobs.lease', { max: 1, waitMs: 0 })).jobs[0];
      expect(job.source).toEqual({ kind: 'upload', filename: w.filename, sha256: sha(w.bytes), sizeBytes: w.bytes.length });
      const get = (token: string) => inject({ method: 'GET', url: `/rpc/v1/blobs/${sha(w.bytes)}`, headers: { authorization: `Bearer ${token}` } });
      expect((await get(S1)).rawPayload.equals(w.bytes)).toBe(true);
      expect((await get(S2)).statusCode).toBe(404);
    });
  });

  describe('user API', () => {
    it('needs the user token; reads are open with public read', async () => {
      expect((await api('GET', '/api/v1/audits', undefined, null)).json()).toMatchObject({ error: { code: 'PYTI_AUTH' } });
      expect((await api('POST', '/api/v1/audits', { project: 'p', version: '1' }, S1)).statusCode).toBe(401);
      expect((await api('GET', '/api/v1/audits')).statusCode).toBe(200);
      await m.close();
      m = await start({ publicRead: true });
      expect((await api('GET', '/api/v1/audits', undefined, null)).statusCode).toBe(200);
      expect((await api('POST', '/api/v1/audits', { project: 'p', version: '1' }, null)).statusCode).toBe(401);
      expect((await api('GET', '/api/v1/slaves', undefined, null)).statusCode).toBe(401);
    });

    it('validates submissions', async () => {
      const r = await api('POST', '/api/v1/audits', { project: '../etc', version: '1' });
      expect(r.statusCode).toBe(400);
      expect(r.json().error).toMatchObject({ code: 'PYTI_USAGE' });
      expect((await api('POST', '/api/v1/audits', { project: 'p', version: '1', priority: 1000 })).json().error.message).toContain('priority');
      expect((await api('GET', '/api/v1/audits/nope')).statusCode).toBe(404);
    });

    it('refuses a malformed or hostile upload with its PYTI_INPUT code and queues nothing', async () => {
      const upload = (filename: string, bytes: Buffer) => inject({
        method: 'POST', url: `/api/v1/audits/upload?filename=${encodeURIComponent(filename)}`, payload: bytes,
        headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/octet-stream' },
      });
      const notGzip = await upload('evil-1.0.tar.gz', Buffer.from('this is not gzip'));
      expect(notGzip.statusCode).toBe(400);
      expect(notGzip.json().error.code).toBe('PYTI_INPUT_NOT_ARCHIVE');
      expect(notGzip.json().error.message).not.toContain(dir);
      const truncated = await upload('evil-1.0.tar.gz', gzipSync(Buffer.alloc(1000, 1)).subarray(0, 30));
      expect(truncated.statusCode).toBe(400);
      expect(truncated.json().error.code).toMatch(/^PYTI_INPUT_/);
      expect((await upload('../x.whl', Buffer.from('PK'))).statusCode).toBe(400);
      expect((await api('GET', '/api/v1/audits')).json()).toMatchObject({ audits: [], total: 0, counts: { total: 0, queued: 0 } });
      expect(readdirSync(join(dir, 'blobs'))).toEqual([]);
      expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
      const w = tinyWheel('tinypkg', '2.0');
      const good = await upload(w.filename, w.bytes);
      expect(good.json()).toMatchObject({ state: 'queued', source: 'upload', project: 'tinypkg', version: '2.0', filename: w.filename });
    });

    it('cancels a queued and a running audit; the slave hears of it', async () => {
      await register(S1);
      const queued = await submit('a', -1);
      const running = await submit('b', 1);
      const lease = (await ok(S1, 'jobs.lease', { max: 1, waitMs: 0 })).jobs[0].leaseId;
      expect((await api('POST', `/api/v1/audits/${queued.id}/cancel`)).json().state).toBe('cancelled');
      expect((await api('POST', `/api/v1/audits/${running.id}/cancel`)).json().state).toBe('cancelled');
      expect(await ok(S1, 'jobs.progress', { leaseId: lease, events: [] })).toEqual({ valid: false });
      expect((await ok(S1, 'slave.heartbeat', { leases: [lease], draining: false })).commands).toEqual([{ kind: 'cancel', jobId: running.id, leaseId: lease }]);
      expect((await ok(S1, 'jobs.lease', { max: 5, waitMs: 0 })).jobs).toEqual([]);
      expect((await api('POST', '/api/v1/audits/nope/cancel')).statusCode).toBe(404);
    });

    it('drains a slave and lists slaves', async () => {
      await register(S1);
      await submit('a');
      expect((await api('POST', '/api/v1/slaves/s1/drain')).json()).toMatchObject({ name: 's1', drainRequested: true });
      expect((await api('POST', '/api/v1/slaves/nobody/drain')).statusCode).toBe(404);
      expect((await ok(S1, 'jobs.lease', { max: 1, waitMs: 1000 })).jobs).toEqual([]);
      expect((await ok(S1, 'slave.heartbeat', { leases: [], draining: true })).commands).toEqual([{ kind: 'drain' }]);
      const { slaves } = (await api('GET', '/api/v1/slaves')).json();
      expect(slaves.find((s: { name: string }) => s.name === 's1')).toMatchObject({ draining: true, drainRequested: true, capabilities: caps, activeLeases: 0 });
    });

    it('serves the pages, and sets the token cookie from ?token=', async () => {
      await submit('pagepkg');
      const login = await inject({ method: 'GET', url: `/?token=${USER}` });
      expect(login.statusCode).toBe(303);
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      const list = await inject({ method: 'GET', url: '/', headers: { cookie } });
      expect(list.statusCode).toBe(200);
      expect(list.body).toContain('pagepkg');
      expect((await inject({ method: 'GET', url: '/' })).statusCode).toBe(401);
      const id = (await api('GET', '/api/v1/audits')).json().audits[0].id;
      expect((await inject({ method: 'GET', url: `/audits/${id}`, headers: { cookie } })).body).toContain('pagepkg');
    });
  });

  it('keeps queued jobs and stored reports across a restart', async () => {
    await register(S1);
    const done = await submit('done-pkg', 1);
    const queued = await submit('queued-pkg');
    const lease = (await ok(S1, 'jobs.lease', { max: 1, waitMs: 0 })).jobs[0].leaseId;
    await ok(S1, 'jobs.complete', { leaseId: lease, outcome: reportOutcome('done-pkg', 'failed') });
    await m.close();
    m = await start();
    expect((await api('GET', `/api/v1/audits/${done.id}/report.json`)).json()).toMatchObject({ verdict: 'failed', result: 'build-fail' });
    expect((await api('GET', `/api/v1/audits/${queued.id}`)).json().state).toBe('queued');
    // The slave's registration survived too.
    expect((await ok(S1, 'jobs.lease', { max: 1, waitMs: 0 })).jobs[0].jobId).toBe(queued.id);
  });
});
