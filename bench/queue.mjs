// Benchmark: the master's job queue on its embedded database (SQLite, WAL, a file in a temp dir), in
// one run: submissions per second and lease round trips per second (lease one job + complete it with
// a small report), first calling the queue directly, then through HTTP on a real socket (user API
// for submissions, JSON-RPC command API for lease + complete), sequentially and with C requests in
// flight. Usage: node bench/queue.mjs [N queue-level] [N over HTTP] [C]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobQueue, buildMasterApp, loadMasterConfig, openDatabase } from '../master/dist/index.js';
import { tinyReport } from '../master/dist/testing/tiny-dists.js';

const nQueue = Number(process.argv[2] ?? 20000);
const nHttp = Number(process.argv[3] ?? 2000);
const conc = Number(process.argv[4] ?? 8);
const caps = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 64 };
const registration = { protocolVersion: 1, version: 'bench', host: 'bench', capabilities: caps };
const report = tinyReport('benchpkg', '1.0');
const rows = [];

async function measure(what, n, fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  rows.push({ what, n, ms, perSec: (n * 1000) / ms });
}

/** Runs `task(i)` for i < n with at most `c` in flight. */
async function pool(n, c, task) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(c, n) }, async () => {
    while (next < n) await task(next++);
  }));
}

const dir = mkdtempSync(join(tmpdir(), 'pyti-bench-queue-'));
try {
  // ---- the queue itself -------------------------------------------------------------------------
  const db = openDatabase(join(dir, 'queue.db'));
  const q = new JobQueue(db, { leaseMs: 60000, maxWaitMs: 0, maxAttempts: 3, defaultBackend: 'bwrap', sweepIntervalMs: 0 });
  q.register('bench', registration);
  await measure('queue: submit', nQueue, () => {
    for (let i = 0; i < nQueue; i++) q.submit({ source: { kind: 'index', project: `p${i}`, version: '1.0' }, priority: i % 3 });
  });
  const reportJson = JSON.stringify(report);
  await measure('queue: lease + complete', nQueue, () => {
    for (let i = 0; i < nQueue; i++) {
      const [job] = q.leaseNow('bench', 1);
      const r = q.complete('bench', job.leaseId, { kind: 'report', reportJson, verdict: 'clean', result: 'pass', findings: 0, artifacts: [] });
      if (!r.stored) throw new Error('not stored');
    }
  });
  if (q.counts().done !== nQueue) throw new Error(`expected ${nQueue} done, got ${JSON.stringify(q.counts())}`);
  q.close();
  db.close();

  // ---- through HTTP -----------------------------------------------------------------------------
  const config = loadMasterConfig({ data: join(dir, 'master'), port: 0, slaveToken: ['bench:bench-slave-token'], maxWaitMs: 0 }, { PYTI_USER_TOKEN: 'bench-user-token' });
  const master = await buildMasterApp(config);
  const url = await master.listen();
  const userHeaders = { authorization: 'Bearer bench-user-token', 'content-type': 'application/json' };
  const slaveHeaders = { authorization: 'Bearer bench-slave-token', 'content-type': 'application/json' };
  let id = 0;
  const rpc = async (method, params) => {
    const res = await fetch(`${url}/rpc/v1`, { method: 'POST', headers: slaveHeaders, body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }) });
    const body = await res.json();
    if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
    return body.result;
  };
  const submit = async (i) => {
    const res = await fetch(`${url}/api/v1/audits`, { method: 'POST', headers: userHeaders, body: JSON.stringify({ project: `p${i}`, version: '1.0' }) });
    if (res.status !== 202) throw new Error(`submit: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  const roundTrip = async () => {
    const { jobs } = await rpc('jobs.lease', { max: 1, waitMs: 0 });
    if (jobs.length !== 1) throw new Error('nothing to lease');
    const r = await rpc('jobs.complete', { leaseId: jobs[0].leaseId, outcome: { kind: 'report', report, artifacts: [] } });
    if (!r.stored) throw new Error('not stored');
  };
  await rpc('slave.register', registration);
  await measure('http: submit (sequential)', nHttp, async () => { for (let i = 0; i < nHttp; i++) await submit(i); });
  await measure('http: lease + complete (sequential)', nHttp, async () => { for (let i = 0; i < nHttp; i++) await roundTrip(); });
  await measure(`http: submit (${conc} in flight)`, nHttp, () => pool(nHttp, conc, submit));
  await measure(`http: lease + complete (${conc} in flight)`, nHttp, () => pool(nHttp, conc, roundTrip));
  await master.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log('master job queue on SQLite (WAL, temp dir), one run:');
for (const r of rows) {
  console.log(`  ${r.what.padEnd(40)} ${String(r.n).padStart(6)} in ${r.ms.toFixed(0).padStart(6)} ms  = ${r.perSec.toFixed(0).padStart(7)} /s`);
}
