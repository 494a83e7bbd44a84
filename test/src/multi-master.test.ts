/**
 * Two `pyti master` processes on one PostgreSQL database (a real PostgreSQL 15 server started by the
 * test), following the test index, with three slaves leasing from them. The slaves are simulated
 * command-API clients (register, then `jobs.lease` in a loop, recording what they get; no sandbox):
 * what is checked here is the masters' side.
 *
 * - exactly one master follows the index's change log (the advisory lock) while both serve the queue;
 * - the master following it is killed with SIGKILL during a burst of uploads: the other one takes the
 *   feed over, and in the end every uploaded file has exactly one audit — nothing lost, nothing doubled;
 * - no job is leased by two slaves, although the slaves lease from both masters at once.
 *
 * Skipped where PostgreSQL 15 is not installed (fails under CI=true).
 */
import { jest } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserClient, type AuditSummary } from '@pyti/master';
import { pgAvailable, startPgForTests, type PgServer } from '../../master/src/testing/pg-kit.js';
import { tinyWheel } from '../../master/src/testing/tiny-dists.js';
import { TestChild, eventually, freePort } from './child-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const PYTI = join(ROOT, 'bin/pyti.mjs');
const INDEX_MAIN = join(ROOT, 'test/dist/index-server/main.js');
const USER_TOKEN = 'user-token-for-the-multi-master-test';
const SLAVES = { s1: 'slave-one-token-0123', s2: 'slave-two-token-0123', s3: 'slave-three-token-012' } as const;
const ECHO = process.env.PYTI_TEST_ECHO === '1';
const caps = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 4 };

jest.setTimeout(5 * 60_000);

let dir: string;
let pg: PgServer | null = null;
let index: TestChild;
let indexUrl: string;
const masters: { child: TestChild; url: string }[] = [];

/** A master on the shared database, with its own data directory and the shared blob directory. */
async function startMaster(name: string, database: string, leaseMs = 600_000, port?: number): Promise<{ child: TestChild; url: string }> {
  port ??= await freePort();
  const child = new TestChild(name, process.execPath, [
    PYTI, 'master', '--data', join(dir, name), '--database', database, '--blob-dir', join(dir, 'blobs'),
    '--host', '127.0.0.1', '--port', String(port), '--index-url', indexUrl, '--follow', '--poll-ms', '300', '--rss-poll-ms', '0',
    '--lease-ms', String(leaseMs),
  ], { env: { PYTI_USER_TOKEN: USER_TOKEN, PYTI_SLAVE_TOKENS: Object.entries(SLAVES).map(([n, t]) => `${n}:${t}`).join(',') }, echo: ECHO });
  await child.waitForLine(/pyti master listening on/, 60_000);
  return { child, url: `http://127.0.0.1:${port}` };
}

async function publish(name: string, version: string): Promise<string> {
  const w = tinyWheel(name.replace(/-/g, '_'), version);
  const path = join(dir, 'dists', w.filename);
  writeFileSync(path, w.bytes);
  const res = await fetch(`${indexUrl}/-/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path }) });
  if (!res.ok) throw new Error(`publish: ${res.status} ${await res.text()}`);
  return w.filename;
}

/** A simulated slave: leases from the first master that answers (the next one when it is gone), and records every lease. */
class SimSlave {
  readonly leased: string[] = [];
  private stopped = false;
  private readonly done: Promise<void>;
  private registered = new Set<string>();

  /** `completeMs`: complete each leased job (as an infrastructure error, not retried) after this long; undefined: never. */
  constructor(readonly name: keyof typeof SLAVES, private readonly urls: () => string[], private readonly completeMs?: number) {
    this.done = this.loop();
  }

  private async rpc(url: string, method: string, params: unknown): Promise<any> {
    const res = await fetch(`${url}/rpc/v1`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${SLAVES[this.name]}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), signal: AbortSignal.timeout(10_000),
    });
    const j = await res.json() as { result?: unknown; error?: { message: string } };
    if (j.error) throw new Error(`${method}: ${j.error.message}`);
    return j.result;
  }

  private async loop(): Promise<void> {
    let i = 0;
    while (!this.stopped) {
      const all = this.urls();
      const url = all[i % all.length]!;
      try {
        if (!this.registered.has(url)) {
          await this.rpc(url, 'slave.register', { protocolVersion: 1, version: '0.1.0', host: this.name, capabilities: caps });
          this.registered.add(url);
        }
        const r = await this.rpc(url, 'jobs.lease', { max: 2, waitMs: 1000 }) as { jobs: { jobId: string }[] };
        for (const j of r.jobs) this.leased.push(j.jobId);
        if (this.completeMs !== undefined) {
          for (const j of r.jobs as { jobId: string; leaseId: string }[]) {
            await new Promise((res) => setTimeout(res, this.completeMs));
            if (this.stopped) return; // killed: the lease is abandoned
            await this.rpc(url, 'jobs.complete', { leaseId: j.leaseId, outcome: { kind: 'error', code: 'PYTI_SLAVE_FAILED', message: `simulated by ${this.name}`, retry: false } });
          }
        }
      } catch {
        i++; // this master is gone: the next one
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

const maybe = pgAvailable() || process.env.CI === 'true' ? test : test.skip;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-multi-master-'));
  mkdirSync(join(dir, 'dists'));
});

afterAll(async () => {
  for (const m of masters) await m.child.stop('SIGTERM');
  await index?.stop('SIGTERM');
  pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

maybe('two masters on PostgreSQL: one follows the feed, the other takes over when it is killed; every upload audited once, every job leased once', async () => {
  pg = await startPgForTests();
  const database = await pg!.freshDatabase('multimaster');
  index = new TestChild('index', process.execPath, [INDEX_MAIN, '--port', String(await freePort()), '--serial-base', '7000'], { echo: ECHO });
  indexUrl = JSON.parse((await index.waitForLine(/^\{"url".*$/, 30_000))[0]).url;
  masters.push(await startMaster('master-a', database), await startMaster('master-b', database));
  const client = (m: { url: string }) => new UserClient({ url: m.url, token: USER_TOKEN, retry: { retries: 3, baseDelayMs: 200 } });
  await client(masters[0]!).subscribe({ name: 'every', kind: 'all' });

  // Exactly one of them follows the change log; the other stands by.
  const follows = /change log of .*: this master follows it/;
  const holder = await Promise.race(masters.map((m) => m.child.waitForLine(follows, 30_000).then(() => m)));
  const standby = masters.find((m) => m !== holder)!;
  await standby.child.waitForLine(/change log of .*: another master follows it; this one stands by/, 30_000);
  expect(standby.child.lines.some((l) => follows.test(l))).toBe(false);
  await eventually('the cursor to start', async () => ((await client(standby).feed()).cursor ?? undefined), 30_000);

  // Slaves lease from both masters: s1 from A, s2 from B, s3 from whichever answers.
  const alive = () => masters.filter((m) => m.child.proc.exitCode === null && m.child.proc.signalCode === null).map((m) => m.url);
  const slaves = [
    new SimSlave('s1', () => [masters[0]!.url, ...alive()]),
    new SimSlave('s2', () => [masters[1]!.url, ...alive()]),
    new SimSlave('s3', () => alive()),
  ];

  // A burst of uploads; the following master is killed in the middle of it.
  const expected: string[] = [];
  const burst = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      expected.push(await publish(`burst-${i}`, '1.0'));
      await new Promise((r) => setTimeout(r, 60));
    }
  };
  const publishing = burst(0, 30);
  await eventually('the first audits', async () => ((await client(standby).list({ limit: 500 })).length >= 5 ? true : undefined), 60_000);
  holder.child.proc.kill('SIGKILL');
  await holder.child.exited;
  await standby.child.waitForLine(/change log of .*: this master follows it \(taken over\)/, 30_000);
  await publishing;
  await burst(30, 36);

  // Every upload has exactly one audit, and every audit was leased by exactly one slave.
  const audits = await eventually('every upload audited', async () => {
    const all: AuditSummary[] = await client(standby).list({ limit: 500 });
    return all.length >= expected.length ? all : undefined;
  }, 90_000);
  await eventually('every audit leased', async () => (slaves.reduce((n, s) => n + s.leased.length, 0) >= audits.length ? true : undefined), 60_000);
  await new Promise((r) => setTimeout(r, 1500)); // a last round of leases: anything leased twice would show now
  for (const s of slaves) await s.stop();
  const files = audits.map((a) => a.filename!).sort();
  expect(files).toEqual([...expected].sort());
  const leases = slaves.flatMap((s) => s.leased);
  expect(leases.length).toBe(new Set(leases).size);
  expect(new Set(leases)).toEqual(new Set(audits.map((a) => a.id)));
  expect(slaves.filter((s) => s.leased.length > 0).length).toBeGreaterThanOrEqual(2);
  expect((await client(standby).feed())).toMatchObject({ lag: 0, lastError: null });
});

maybe('two masters on PostgreSQL and three slaves, one of them killed at random ten times during a burst: every expected audit exists exactly once, each stored once', async () => {
  pg ??= await startPgForTests();
  const database = await pg!.freshDatabase('chaos');
  if (!index) {
    index = new TestChild('index', process.execPath, [INDEX_MAIN, '--port', String(await freePort()), '--serial-base', '7000'], { echo: ECHO });
    indexUrl = JSON.parse((await index.waitForLine(/^\{"url".*$/, 30_000))[0]).url;
  }
  for (const m of masters.splice(0)) await m.child.stop('SIGTERM');
  const LEASE_MS = 3000;
  const ports = [await freePort(), await freePort()];
  const names = ['chaos-a', 'chaos-b'];
  masters.push(await startMaster(names[0]!, database, LEASE_MS, ports[0]), await startMaster(names[1]!, database, LEASE_MS, ports[1]));
  const isUp = (m: { child: TestChild }) => m.child.proc.exitCode === null && m.child.proc.signalCode === null;
  const alive = () => masters.filter(isUp).map((m) => m.url);
  const client = () => new UserClient({ url: alive()[0]!, token: USER_TOKEN, retry: { retries: 10, baseDelayMs: 200 } });
  await client().subscribe({ name: 'every', kind: 'all' });
  await eventually('the cursor to start', async () => ((await client().feed()).cursor ?? undefined), 30_000);
  const slaveNames = ['s1', 's2', 's3'] as const;
  const slaves = slaveNames.map((n) => new SimSlave(n, () => alive(), 150));

  // The burst: uploads to the index and submissions to either master.
  const expectedFiles: string[] = [];
  const submitted: string[] = [];
  const unsure: string[] = [];
  let bursting = true;
  const burst = (async () => {
    for (let i = 0; i < 40; i++) {
      expectedFiles.push(await publish(`chaos-${i}`, '1.0'));
      const urls = alive();
      const url = urls[i % urls.length]!;
      const project = `submitted-${i}`;
      try {
        const res = await fetch(`${url}/api/v1/audits`, { method: 'POST', headers: { authorization: `Bearer ${USER_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ project, version: '1.0' }) });
        if (res.status === 202) submitted.push(project);
        else unsure.push(project);
      } catch {
        unsure.push(project); // the master died during the request: the audit may or may not exist
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    bursting = false;
  })();

  // Ten kills at random, one a second: a master (SIGKILL, restarted on its port) or a slave (its leases abandoned, restarted).
  const kills: string[] = [];
  for (let k = 0; k < 10; k++) {
    await new Promise((r) => setTimeout(r, 700));
    const victim = Math.floor(Math.random() * 5);
    if (victim < 2) {
      const m = masters[victim]!;
      if (!isUp(masters[1 - victim]!)) continue;
      m.child.proc.kill('SIGKILL');
      await m.child.exited;
      kills.push(names[victim]!);
      masters[victim] = await startMaster(names[victim]!, database, LEASE_MS, ports[victim]);
    } else {
      const i = victim - 2;
      const dead = slaves[i]!;
      void dead.stop();
      kills.push(dead.name);
      slaves[i] = new SimSlave(dead.name, () => alive(), 150);
    }
  }
  await burst;
  expect(bursting).toBe(false);
  expect(kills.length).toBeGreaterThanOrEqual(8);

  // Every upload and every acknowledged submission has exactly one audit, and every audit ends.
  const audits = await eventually('every audit to end', async () => {
    const all = await client().list({ limit: 500 });
    const files = new Set(all.map((a) => a.filename));
    if (!expectedFiles.every((f) => files.has(f))) return undefined;
    return all.every((a) => a.state === 'error' || a.state === 'done') ? all : undefined;
  }, 120_000, 500);
  for (const s of slaves) await s.stop();
  const count = (key: (a: AuditSummary) => string | null | undefined, v: string) => audits.filter((a) => key(a) === v).length;
  for (const f of expectedFiles) expect([f, count((a) => a.filename, f)]).toEqual([f, 1]);
  for (const p of submitted) expect([p, count((a) => a.project, p)]).toEqual([p, 1]);
  for (const p of unsure) expect(count((a) => a.project, p)).toBeLessThanOrEqual(1);
  expect(audits.length).toBe(expectedFiles.length + submitted.length + unsure.filter((p) => count((a) => a.project, p) === 1).length);
  // Each job's result was stored once: at most one completed attempt per job.
  const twice = await pg!.query(database, `SELECT job_seq, COUNT(*) AS n FROM attempts WHERE state = 'completed' GROUP BY job_seq HAVING COUNT(*) > 1`);
  expect(twice).toEqual([]);
  process.stderr.write(`chaos: killed ${kills.join(', ')}; ${audits.length} audits\n`);
});
