import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMasterApp, loadMasterConfig, UserClient, type MasterApp } from '@pyti/master';
import { CommandClient } from '@pyti/slave';
import { type SlaveCapabilities } from '@pyti/common';
import { buildFixture } from './fixture-dists.js';

const S1 = 'slave1-token-0123456789';
const S2 = 'slave2-token-0123456789';
const USER = 'user-token-0123456789';
const caps: SlaveCapabilities = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 2 };
const fast = { initialMs: 10, maxMs: 50, deadlineMs: 3000 };
const code = (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: { code?: string }) => e.code ?? String(e));

let dir: string;
let m: MasterApp;
let url: string;
let user: UserClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-cmd-master-'));
  const config = loadMasterConfig({ data: join(dir, 'master'), port: 0, leaseMs: 5000, heartbeatMs: 1000, maxWaitMs: 2000, maxAttempts: 2, slaveToken: [`s1:${S1}`, `s2:${S2}`] }, { PYTI_USER_TOKEN: USER });
  m = await buildMasterApp(config, { sweepIntervalMs: 0 });
  url = await m.listen();
  user = new UserClient({ url, token: USER });
});
afterAll(async () => {
  await m?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('command client against the real master', () => {
  it('registers, leases (long-poll), heartbeats, reports progress and completes; a replay is acknowledged', async () => {
    const c = new CommandClient({ masterUrl: url, token: S1, retry: fast });
    const reg = await c.call('slave.register', { protocolVersion: 1, version: '0.1.0', host: 'test', capabilities: caps });
    expect(reg).toMatchObject({ slave: 's1', leaseMs: 5000, heartbeatMs: 1000, maxWaitMs: 2000 });

    const empty = Date.now();
    await expect(c.call('jobs.lease', { max: 1, waitMs: 300 })).resolves.toEqual({ jobs: [] });
    expect(Date.now() - empty).toBeGreaterThanOrEqual(250);

    const audit = await user.submitByName({ project: 'idx-leaf', version: '1.1' });
    const { jobs } = await c.call('jobs.lease', { max: 2, waitMs: 1000 });
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    expect(job).toMatchObject({ attempt: 1, backend: 'bwrap', source: { kind: 'index', project: 'idx-leaf', version: '1.1' } });

    const hb = await c.call('slave.heartbeat', { leases: [job.leaseId], draining: false });
    expect(hb.extended.map((e) => e.leaseId)).toEqual([job.leaseId]);
    expect(hb.lost).toEqual([]);
    await expect(c.call('jobs.progress', { leaseId: job.leaseId, events: [{ at: Date.now(), kind: 'phase', phase: 'downloading' }] })).resolves.toEqual({ valid: true });

    // Another slave cannot touch this lease.
    const other = new CommandClient({ masterUrl: url, token: S2, retry: fast });
    await other.call('slave.register', { protocolVersion: 1, version: '0.1.0', host: 'other', capabilities: caps });
    const outcome = { kind: 'error' as const, code: 'PYTI_INDEX_NOT_FOUND', message: 'no such release', retry: false };
    await expect(code(other.call('jobs.complete', { leaseId: job.leaseId, outcome }))).resolves.toBe('PYTI_LEASE_LOST');

    await expect(c.call('jobs.complete', { leaseId: job.leaseId, outcome })).resolves.toEqual({ stored: true });
    await expect(c.call('jobs.complete', { leaseId: job.leaseId, outcome })).resolves.toEqual({ stored: false });
    expect((await user.get(audit.id)).state).toBe('error');
    const after = await c.call('slave.heartbeat', { leases: [job.leaseId], draining: false });
    expect(after.lost).toEqual([job.leaseId]);
  });

  it('fetches an uploaded distribution as a blob with its hash checked, and uploads artifacts', async () => {
    const c = new CommandClient({ masterUrl: url, token: S1, retry: fast });
    const wheel = buildFixture('idx-leaf-1.0', 'wheel');
    await user.submitUpload(wheel);
    const { jobs } = await c.call('jobs.lease', { max: 1, waitMs: 1000 });
    const s = jobs[0]!.source;
    if (s.kind !== 'upload') throw new Error('expected an upload');
    expect(s.sha256).toBe(createHash('sha256').update(readFileSync(wheel)).digest('hex'));
    const dest = join(dir, s.filename);
    await expect(c.getBlob(s.sha256, dest, { maxBytes: s.sizeBytes })).resolves.toEqual({ sizeBytes: s.sizeBytes });
    expect(readFileSync(dest).equals(readFileSync(wheel))).toBe(true);
    // A blob this slave did not lease is not served.
    await expect(code(c.getBlob('0'.repeat(64), join(dir, 'nothing')))).resolves.toMatch(/PYTI_/);

    const raw = join(dir, 'strace.log');
    writeFileSync(raw, 'execve("/usr/bin/python3", ...) = 0\n');
    const sha = await c.putBlob(raw);
    expect(sha).toBe(createHash('sha256').update(readFileSync(raw)).digest('hex'));
    await expect(c.putBlob(raw)).resolves.toBe(sha); // again: idempotent
  });

  it('refuses a bad token with PYTI_AUTH, without retrying', async () => {
    const c = new CommandClient({ masterUrl: url, token: 'wrong-token-000000', retry: fast });
    await expect(code(c.call('jobs.lease', { max: 1, waitMs: 0 }))).resolves.toBe('PYTI_AUTH');
    await expect(code(c.putBlob(join(dir, 'strace.log')))).resolves.toBe('PYTI_AUTH');
  });

  it('gives up with PYTI_MASTER_UNREACHABLE after retrying a closed port', async () => {
    const closedDir = mkdtempSync(join(tmpdir(), 'pyti-cmd-closed-'));
    const config = loadMasterConfig({ data: closedDir, port: 0, slaveToken: [`s1:${S1}`] }, {});
    const gone = await buildMasterApp(config, { sweepIntervalMs: 0 });
    const goneUrl = await gone.listen();
    await gone.close();
    rmSync(closedDir, { recursive: true, force: true });
    let retries = 0;
    const c = new CommandClient({ masterUrl: goneUrl, token: S1, retry: { initialMs: 20, maxMs: 80, deadlineMs: 400 }, onRetry: () => retries++ });
    await expect(code(c.call('slave.heartbeat', { leases: [], draining: false }))).resolves.toBe('PYTI_MASTER_UNREACHABLE');
    expect(retries).toBeGreaterThanOrEqual(2);
  });
});
