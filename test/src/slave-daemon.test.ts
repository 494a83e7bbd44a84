import { jest } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMasterApp, loadMasterConfig, UserClient, type MasterApp } from '@pyti/master';
import { CommandClient, loadSlaveConfig, Outbox, runSlave } from '@pyti/slave';
import { main, type CliIO } from '@pyti/slave/cli';
import { buildIndexFixtures, type IndexFixtures } from './index-fixtures.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';
import { TestChild } from './child-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;

jest.setTimeout(600_000);

const S1 = 'slave1-token-0123456789';
const USER = 'user-token-0123456789';
const fast = { initialMs: 50, maxMs: 300, deadlineMs: 2000 };

let dir: string;
let fx: IndexFixtures;
let index: IndexServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-slave-daemon-'));
  fx = buildIndexFixtures();
  index = await startIndexServer({ files: fx.files });
});
afterAll(async () => {
  await index?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startMaster(data: string, port = 0): Promise<{ m: MasterApp; url: string }> {
  const config = loadMasterConfig({ data, port, leaseMs: 20_000, heartbeatMs: 500, maxWaitMs: 1000, maxAttempts: 2, slaveToken: [`s1:${S1}`] }, { PYTI_USER_TOKEN: USER });
  const m = await buildMasterApp(config, { sweepIntervalMs: 0 });
  return { m, url: await m.listen() };
}

async function eventually<T>(f: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('pyti slave daemon with the real master, index and bwrap', () => {
  it('audits idx-app from the index end to end (with the perf task, --perf), and ends an unknown project at once without retry', async () => {
    const { m, url } = await startMaster(join(dir, 'm1'));
    const data = join(dir, 's1');
    const lines: string[] = [];
    const drain = new AbortController();
    const config = loadSlaveConfig({ master: url, token: S1, name: 'test-slave', concurrency: '2', indexUrl: index.url, data, perf: true }, {});
    const slave = runSlave(config, { log: (l) => lines.push(l), drain: drain.signal, retry: fast, leaseWaitMs: 1000 });
    try {
      const user = new UserClient({ url, token: USER });
      const missing = await user.submitByName({ project: 'no-such-project', version: '1.0' });
      const app = await user.submitByName({ project: 'idx-app', version: '1.0' });
      const gone = await user.waitFor(missing.id, { pollMs: 300, timeoutMs: 60_000 });
      expect(gone.state).toBe('error');
      expect(gone.attempts).toBe(1);
      expect(gone.error?.code).toBe('PYTI_INDEX_NOT_FOUND');

      const done = await user.waitFor(app.id, { pollMs: 500, timeoutMs: 400_000 });
      expect(done.state).toBe('done');
      expect(done.slave).toBe('s1');
      expect(done.prefetch?.error).toBeUndefined();
      expect(done.prefetch?.wheels.map((w) => w.split('-')[0])).toEqual(['idx_leaf', 'setuptools', 'wheel']);
      const report = await user.reportJson(app.id) as { result: string; dist: { name: string }; perf?: { test: string; runs: number }[] };
      expect(report.result).toBe('pass');
      // The master keeps the perf task's timings with the report (a project's history can show them).
      expect(report.perf?.length).toBeGreaterThan(0);
      expect(report.perf!.every((p) => p.test.startsWith('tests/test_app.py::') && p.runs === 5)).toBe(true);
      expect(lines.some((l) => l.includes('perf task on'))).toBe(true);
      expect(done.artifacts.length).toBeGreaterThan(0);
      // The raw data, and the distribution itself (kept so that `pyti master rescore` can re-run the static rules).
      expect(done.artifacts.every((a) => a.name.startsWith('raw/') || a.name.startsWith('dist/'))).toBe(true);
      expect(done.artifacts.filter((a) => a.name.startsWith('dist/'))).toHaveLength(1);
      expect(done.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['phase', 'task-started', 'task-finished']));
      expect(lines.some((l) => /^job \S+ auditing$/.test(l))).toBe(true);
    } finally {
      drain.abort();
      await expect(slave).resolves.toBe(0);
      await m.close();
    }
    expect(readdirSync(join(data, 'jobs'))).toEqual([]);
    expect(readdirSync(join(data, 'outbox'))).toEqual([]);
    expect(existsSync(join(data, 'slave.lock'))).toBe(false);
  });

  it('keeps a finished result through a master restart and delivers it from the outbox', async () => {
    const mdata = join(dir, 'm2');
    const first = await startMaster(mdata);
    const port = Number(new URL(first.url).port);
    const user = new UserClient({ url: first.url, token: USER });
    const audit = await user.submitByName({ project: 'idx-leaf', version: '1.0' });
    // A slave leased it, finished, wrote its result to the outbox, and died before sending it.
    const c = new CommandClient({ masterUrl: first.url, token: S1, retry: fast });
    await c.call('slave.register', { protocolVersion: 1, version: '0.1.0', host: 'h', capabilities: { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 1 } });
    const { jobs } = await c.call('jobs.lease', { max: 1, waitMs: 1000 });
    const data = join(dir, 's2');
    new Outbox(data).add({ leaseId: jobs[0]!.leaseId, jobId: jobs[0]!.jobId, outcome: { kind: 'error', code: 'PYTI_INDEX_HASH_MISMATCH', message: 'sha256 differs', retry: false } });
    await first.m.close();

    const lines: string[] = [];
    const drain = new AbortController();
    const config = loadSlaveConfig({ master: first.url, token: S1, indexUrl: index.url, data }, {});
    const slave = runSlave(config, { log: (l) => lines.push(l), drain: drain.signal, retry: fast, leaseWaitMs: 500 });
    try {
      await eventually(() => (lines.some((l) => l.startsWith('master unreachable')) ? true : undefined), 30_000);
      const second = await startMaster(mdata, port);
      try {
        const d = await eventually(async () => {
          const a = await user.get(audit.id);
          return a.state === 'error' ? a : undefined;
        });
        expect(d.error?.code).toBe('PYTI_INDEX_HASH_MISMATCH');
        await eventually(() => (readdirSync(join(data, 'outbox')).length === 0 ? true : undefined));
        expect(lines.some((l) => /result delivered/.test(l))).toBe(true);
      } finally {
        drain.abort();
        await expect(slave).resolves.toBe(0);
        await second.m.close();
      }
    } finally {
      drain.abort();
    }
  });
});

describe('cancelling a running job', () => {
  it('kills the sandbox, removes the job directory and reports nothing', async () => {
    const { m, url } = await startMaster(join(dir, 'm3'));
    const data = join(dir, 's3');
    const lines: string[] = [];
    const drain = new AbortController();
    const config = loadSlaveConfig({ master: url, token: S1, indexUrl: index.url, data }, {});
    const slave = runSlave(config, { log: (l) => lines.push(l), drain: drain.signal, retry: fast, leaseWaitMs: 1000 });
    const ours = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('pyti-job-')).filter((n) => {
      try {
        return readFileSync(join(tmpdir(), n, 'owner.pid'), 'utf8') === String(process.pid);
      } catch {
        return false;
      }
    });
    try {
      const user = new UserClient({ url, token: USER });
      const a = await user.submitByName({ project: 'idx-app', version: '1.0' });
      await eventually(() => (lines.some((l) => /^job \S+ (inspect|build) started$/.test(l)) ? true : undefined), 120_000);
      expect(ours().length).toBe(1);
      const t0 = Date.now();
      await user.cancel(a.id);
      await eventually(() => (lines.some((l) => /^job \S+ stopped: /.test(l)) ? true : undefined), 30_000);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(readdirSync(join(data, 'jobs'))).toEqual([]);
      expect(readdirSync(join(data, 'outbox'))).toEqual([]);
      expect(ours()).toEqual([]);
      expect((await user.get(a.id)).state).toBe('cancelled');
    } catch (err) {
      console.log(lines.join('\n'));
      throw err;
    } finally {
      drain.abort();
      await expect(slave).resolves.toBe(0);
      await m.close();
    }
    expect(lines.some((l) => /result delivered/.test(l))).toBe(false);
  });
});

describe('pyti slave command line', () => {
  const io = (): CliIO & { stderr: string } => {
    const o = { stderr: '', isTTY: false, out: () => undefined, err: (s: string) => (o.stderr += s) };
    return o;
  };
  it('refuses a bad configuration before doing anything', async () => {
    const o = io();
    expect(await main(['slave', '--token', S1], o)).toBe(2);
    expect(o.stderr).toContain('PYTI_CONFIG_INVALID: --master');
    const o2 = io();
    expect(await main(['slave', '--master', 'http://127.0.0.1:1', '--token', S1, '--backend', 'docker'], o2)).toBe(2);
    expect(o2.stderr).toContain('--backend');
    expect(o2.stderr).not.toContain(S1);
    const o3 = io();
    expect(await main(['slave', 'extra'], o3)).toBe(64);
  });

  it('drains on SIGTERM and exits 0 (bin/pyti.mjs, built code)', async () => {
    const { m, url } = await startMaster(join(dir, 'm4'));
    const child = new TestChild('slave', process.execPath, [join(ROOT, 'bin/pyti.mjs'), 'slave', '--master', url, '--index-url', index.url, '--data', join(dir, 's4')], { env: { PYTI_SLAVE_TOKEN: S1 } });
    try {
      await child.waitForLine(/registered with .* as s1/, 60_000);
      child.proc.kill('SIGTERM');
      await child.waitForLine(/SIGTERM: draining/, 10_000);
      const { code } = await child.exited;
      expect(code).toBe(0);
      expect(child.lines.some((l) => /^\[\d{4}-\d\d-\d\dT[^\]]+\] drained$/.test(l))).toBe(true);
    } finally {
      child.proc.kill('SIGKILL');
      await m.close();
    }
  });
});
