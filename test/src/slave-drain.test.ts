/**
 * Draining a slave (its drain signal: SIGTERM in the CLI) while its `jobs.lease` long-poll is pending:
 * the master answers the poll as soon as the slave's heartbeat says it drains, and a job the master
 * put in that answer is run to its end by the draining slave — not stranded under a lease nobody holds.
 * A real master and a real slave daemon (bwrap backend), in-process, and the test index.
 */
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMasterApp, loadMasterConfig, UserClient, type MasterApp } from '@pyti/master';
import { BwrapBackend, loadSlaveConfig, runSlave } from '@pyti/slave';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

jest.setTimeout(120_000);

const S1 = 'slave1-token-0123456789';
const USER = 'user-token-0123456789';
const fast = { initialMs: 50, maxMs: 300, deadlineMs: 2000 };

let dir: string;
let index: IndexServer;
let skip: string | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-slave-drain-'));
  index = await startIndexServer({ files: [] });
  skip = await new BwrapBackend().probe();
  if (skip) process.stderr.write(`slave drain test skipped: ${skip}\n`);
});
afterAll(async () => {
  await index?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startMaster(data: string): Promise<{ m: MasterApp; url: string }> {
  // Long polls of up to 20 s: a slave that waited for its poll to run out would be seen waiting.
  const config = loadMasterConfig({ data, port: 0, leaseMs: 60_000, heartbeatMs: 500, maxWaitMs: 20_000, maxAttempts: 2, slaveToken: [`s1:${S1}`] }, { PYTI_USER_TOKEN: USER });
  const m = await buildMasterApp(config, { sweepIntervalMs: 0 });
  return { m, url: await m.listen() };
}

/** The slaves that have registered with the master (GET /api/v1/slaves: a capacity once registered). */
async function slavesOf(url: string): Promise<{ name: string }[]> {
  const r = await fetch(`${url}/api/v1/slaves`, { headers: { authorization: `Bearer ${USER}` } });
  return ((await r.json()) as { slaves: { name: string; capacity: number | null }[] }).slaves.filter((s) => s.capacity !== null);
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('draining a slave with a pending long-poll', () => {
  it('answers the poll at once, and runs a job leased into it to its end instead of stranding it', async () => {
    if (skip) return;
    const { m, url } = await startMaster(join(dir, 'm'));
    const user = new UserClient({ url, token: USER });
    const lines: string[] = [];
    const drain = new AbortController();
    const config = loadSlaveConfig({ master: url, token: S1, name: 's1', concurrency: '1', indexUrl: index.url, data: join(dir, 's') }, {});
    const slave = runSlave(config, { log: (l) => lines.push(l), drain: drain.signal, retry: fast, leaseWaitMs: 20_000 });
    try {
      // The slave is registered and long-polling (nothing queued).
      await until('the slave to poll', async () => ((await slavesOf(url)).some((s) => s.name === 's1') && lines.some((l) => /slave starting/.test(l)) ? true : undefined));
      await new Promise((r) => setTimeout(r, 500));
      // A job arrives as the slave starts to drain: the master leases it into the pending poll.
      const submitted = user.submitByName({ project: 'no-such-project', version: '1.0' });
      drain.abort();
      const job = await submitted;
      const t0 = Date.now();
      expect(await slave).toBe(0);
      expect(Date.now() - t0).toBeLessThan(15_000); // not the 20 s poll, nor the 60 s lease
      expect(lines.some((l) => /^draining \(asked to drain\)/.test(l))).toBe(true);
      const d = await user.get(job.id);
      // Either the slave got it and ran it to its end (the index has no such project: no retry), or the
      // master saw the drain first and kept it queued; never leased to a slave that stopped listening.
      if (d.state === 'queued') {
        expect(d.attempts).toBe(0);
      } else {
        expect(d).toMatchObject({ state: 'error', attempts: 1, error: { code: 'PYTI_INDEX_NOT_FOUND' } });
        expect(d.attemptLog.map((a) => [a.slave, a.state])).toEqual([['s1', 'completed']]);
        expect(lines.some((l) => l.startsWith(`job ${job.id} leased`))).toBe(true);
      }
    } finally {
      drain.abort();
      await slave.catch(() => 1);
      await m.close();
    }
  });

  it('a slave drained while idle stops well before its poll would have run out', async () => {
    if (skip) return;
    const { m, url } = await startMaster(join(dir, 'm2'));
    const user = new UserClient({ url, token: USER });
    const lines: string[] = [];
    const drain = new AbortController();
    const config = loadSlaveConfig({ master: url, token: S1, name: 's1', concurrency: '1', indexUrl: index.url, data: join(dir, 's2') }, {});
    const slave = runSlave(config, { log: (l) => lines.push(l), drain: drain.signal, retry: fast, leaseWaitMs: 20_000 });
    try {
      await until('the slave to register', async () => ((await slavesOf(url)).some((s) => s.name === 's1') ? true : undefined));
      await new Promise((r) => setTimeout(r, 500)); // its poll is pending now
      const t0 = Date.now();
      drain.abort();
      expect(await slave).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(lines.at(-1)).toMatch(/^drained/);
    } finally {
      drain.abort();
      await slave.catch(() => 1);
      await m.close();
    }
  });
});
