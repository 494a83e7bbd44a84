/**
 * The distributed half end to end, every component a separate process as in production: the test
 * package index, a master (`pyti master`) and two slaves (`pyti slave`, bubblewrap backend).
 *
 * - audits by name from the index (with a dependency the slave prefetches with pip) and by upload
 *   come back with complete reports; the second audit of a package finds its dependencies in the
 *   slave's wheel cache and downloads none again;
 * - a slave killed with SIGKILL in the middle of a job: the job finishes on the other slave, with one
 *   stored result and the lost attempt's reason;
 * - the master killed with SIGKILL and restarted: no submitted job and no finished result is lost.
 */
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserClient, type AuditDetail } from '@pyti/master';
import { BwrapBackend } from '@pyti/slave';
import { buildFixture } from './fixture-dists.js';
import { buildIndexFixtures } from './index-fixtures.js';
import { TestChild, eventually, freePort } from './child-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const PYTI = join(ROOT, 'bin/pyti.mjs');
const INDEX_MAIN = join(ROOT, 'test/dist/index-server/main.js');
const USER_TOKEN = 'user-token-for-the-distributed-test';
const SLAVE_TOKENS = { a: 'slave-a-token-for-the-distributed-test', b: 'slave-b-token-for-the-distributed-test' };
const LEASE_MS = 10_000;
const HEARTBEAT_MS = 1000;
const ECHO = process.env.PYTI_TEST_ECHO === '1';

jest.setTimeout(15 * 60_000);

let dir: string;
let index: TestChild;
let indexUrl: string;
let master: TestChild;
let masterUrl: string;
let masterPort: number;
const slaves: Record<string, TestChild> = {};
let client: UserClient;
let skip: string | null = null;

function startMaster(): TestChild {
  const m = new TestChild('master', process.execPath, [
    PYTI, 'master', '--data', join(dir, 'master'), '--host', '127.0.0.1', '--port', String(masterPort),
    '--slave-token', `a:${SLAVE_TOKENS.a}`, '--slave-token', `b:${SLAVE_TOKENS.b}`,
    '--lease-ms', String(LEASE_MS), '--heartbeat-ms', String(HEARTBEAT_MS), '--max-attempts', '3',
  ], { env: { PYTI_USER_TOKEN: USER_TOKEN }, echo: ECHO });
  return m;
}

function startSlave(name: 'a' | 'b'): TestChild {
  return new TestChild(`slave-${name}`, process.execPath, [
    PYTI, 'slave', '--master', masterUrl, '--token', SLAVE_TOKENS[name], '--name', name, '--backend', 'bwrap',
    '--concurrency', '1', '--index-url', indexUrl, '--data', join(dir, `slave-${name}`),
  ], { echo: ECHO });
}

async function waitDone(id: string, timeoutMs = 5 * 60_000): Promise<AuditDetail> {
  return eventually(`audit ${id} to finish`, async () => {
    const d = await client.get(id);
    return ['done', 'error', 'cancelled'].includes(d.state) ? d : undefined;
  }, timeoutMs, 500);
}

/** File downloads from the index so far (not the API pages). */
async function indexDownloads(): Promise<string[]> {
  const res = await fetch(`${indexUrl}/-/requests`);
  const log = (await res.json()) as { method: string; path: string; status: number }[];
  return log.filter((r) => r.method === 'GET' && r.path.startsWith('/packages/') && r.status === 200).map((r) => r.path.split('/').pop()!);
}

beforeAll(async () => {
  skip = await new BwrapBackend().probe();
  if (skip) {
    process.stderr.write(`distributed test skipped: ${skip}\n`);
    return;
  }
  dir = mkdtempSync(join(tmpdir(), 'pyti-distributed-'));
  const fixtures = buildIndexFixtures();
  index = new TestChild('index', process.execPath, [INDEX_MAIN, ...fixtures.files], { echo: ECHO });
  indexUrl = JSON.parse((await index.waitForLine(/^\{"url"/, 30_000)).input!).url;
  masterPort = await freePort();
  master = startMaster();
  masterUrl = (await master.waitForLine(/pyti master listening on (\S+)/, 30_000))[1]!;
  client = new UserClient({ url: masterUrl, token: USER_TOKEN });
  slaves.a = startSlave('a');
});

afterAll(async () => {
  await Promise.all(Object.values(slaves).map((s) => s.stop('SIGKILL')));
  await master?.stop('SIGKILL');
  await index?.stop('SIGKILL');
  if (dir && !process.env.PYTI_KEEP_TEST_OUTPUT) rmSync(dir, { recursive: true, force: true });
});

describe('master and slaves as separate processes', () => {
  let firstApp: AuditDetail;

  it('audits a package by name with a dependency from the index, and an uploaded sdist', async () => {
    if (skip) return;
    const byName = await client.submitByName({ project: 'idx-app', version: '1.0' });
    const upload = await client.submitUpload(buildFixture('curl-spawner', 'sdist'), {});
    expect(byName.state).toBe('queued');
    expect(upload.source).toBe('upload');

    firstApp = await waitDone(byName.id);
    expect(firstApp.state).toBe('done');
    expect(firstApp.slave).toBe('a');
    expect(firstApp.prefetch?.wheels.some((w) => w.startsWith('idx_leaf-'))).toBe(true);
    const report = (await client.reportJson(byName.id)) as { verdict: string; result: string; install?: { installed?: { name: string }[] }; tests?: { passed: number } };
    expect(report.result).toBe('pass');
    expect(report.install?.installed?.map((p) => p.name.toLowerCase().replace(/_/g, '-'))).toContain('idx-leaf');
    expect(report.tests?.passed).toBeGreaterThan(0);

    const up = await waitDone(upload.id);
    expect(up.state).toBe('done');
    expect(['suspicious', 'malicious']).toContain(up.verdict);
    expect(up.artifacts.map((a) => a.name)).toEqual(expect.arrayContaining(['raw/install/install.strace', 'raw/import/import.strace']));
    const html = await client.reportHtml(upload.id);
    expect(html).toContain('curl');
  });

  it('a second audit of the package takes its dependencies from the slave cache', async () => {
    if (skip) return;
    const before = await indexDownloads();
    expect(before.some((f) => f.startsWith('idx_leaf-'))).toBe(true);
    const again = await client.submitByName({ project: 'idx-app', version: '1.0', force: true }); // audited already: force a second audit
    const done = await waitDone(again.id);
    expect(done.state).toBe('done');
    expect(done.prefetch?.downloaded).toBe(0);
    const after = await indexDownloads();
    const newDownloads = after.slice(before.length);
    // Only the distribution itself is fetched again; no dependency or build requirement.
    expect(newDownloads).toEqual([expect.stringMatching(/^idx[-_]app-1\.0\.tar\.gz$/)]);
  });

  it('a slave killed with SIGKILL mid-job: the job finishes on the other slave, stored once', async () => {
    if (skip) return;
    slaves.b = startSlave('b');
    const job = await client.submitByName({ project: 'idx-app', version: '1.0', force: true });
    // Wait until some slave is auditing it, then kill that slave.
    const running = await eventually('the job to be audited', async () => {
      const d = await client.get(job.id);
      return d.state === 'running' && d.progress?.phase === 'auditing' ? d : undefined;
    }, 120_000, 200);
    const victim = running.slave as 'a' | 'b';
    const survivor = victim === 'a' ? 'b' : 'a';
    await slaves[victim]!.stop('SIGKILL');
    const done = await waitDone(job.id);
    expect(done.state).toBe('done');
    expect(done.slave).toBe(survivor);
    expect(done.attempts).toBe(2);
    const list = await client.list({ limit: 100 });
    expect(list.filter((a) => a.id === job.id)).toHaveLength(1);
    // The dead slave's attempt is on record with its reason.
    expect(done.attemptLog.map((a) => [a.attempt, a.slave, a.state])).toEqual([[1, victim, 'expired'], [2, survivor, 'completed']]);
    expect(done.attemptLog[0]!.reason).toMatch(/lease expired/);
    slaves[victim] = startSlave(victim);
  });

  it('the master killed with SIGKILL and restarted loses no submitted job and no finished result', async () => {
    if (skip) return;
    const jobs = [await client.submitByName({ project: 'idx-leaf', version: '1.1' }), await client.submitUpload(buildFixture('curl-spawner', 'sdist'), { force: true })];
    await master.stop('SIGKILL');
    master = startMaster();
    await master.waitForLine(/pyti master listening on/, 30_000);
    for (const j of jobs) {
      const d = await waitDone(j.id);
      expect(d.state).toBe('done');
    }
    // Finished before the crash, still there.
    const old = await client.get(firstApp.id);
    expect(old.state).toBe('done');
    expect(((await client.reportJson(firstApp.id)) as { result: string }).result).toBe('pass');
  });
});
