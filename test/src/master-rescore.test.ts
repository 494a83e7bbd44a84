/**
 * `pyti master rescore`: a stored audit whose report lost its findings (as if judged by older
 * rules) is re-judged from its raw trace in the blob store; the stored report, the job's verdict and
 * score change, and a new malicious verdict queues an observation when a token is configured.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMasterApp, loadMasterConfig, openDatabase, runMasterCommand, type MasterApp } from '@pyti/master';
import { COMMAND_BLOB_PATH, COMMAND_PROTOCOL_VERSION } from '@pyti/common';
import { tinyReport } from '../../master/src/testing/tiny-dists.js';

const SLAVE = 'slave-token-0123456789';
const USER = 'user-token-0123456789';
const caps = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 2 };
/** An install trace that writes an SSH authorized_keys file and connects to a documentation address. */
const TRACE = [
  '12 1.0 connect(3<TCP:[1]>, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("203.0.113.9")}, 16) = -1 ENETUNREACH (Network is unreachable)',
  '12 1.1 openat(AT_FDCWD, "/home/pyti/.ssh/authorized_keys", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 4</home/pyti/.ssh/authorized_keys>',
  '',
].join('\n');

let data: string;
afterAll(() => rmSync(data, { recursive: true, force: true }));

async function rpc(m: MasterApp, method: string, params: unknown): Promise<any> {
  const res = await fetch(`${m.url}/rpc/v1`, { method: 'POST', headers: { authorization: `Bearer ${SLAVE}`, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const j = (await res.json()) as { result?: unknown; error?: unknown };
  if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result;
}

it('re-judges stored audits from their raw traces in the blob store', async () => {
  data = mkdtempSync(join(tmpdir(), 'pyti-master-rescore-'));
  const m = await buildMasterApp(loadMasterConfig({ data, port: 0, slaveToken: [`s:${SLAVE}`] }, { PYTI_USER_TOKEN: USER }), { sweepIntervalMs: 0 });
  await m.listen();
  let id: string;
  try {
    const res = await fetch(`${m.url}/api/v1/audits`, { method: 'POST', headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' }, body: JSON.stringify({ project: 'keys-writer', version: '1.0' }) });
    id = ((await res.json()) as { id: string }).id;
    await rpc(m, 'slave.register', { protocolVersion: COMMAND_PROTOCOL_VERSION, version: '0.1.0', host: 'h', capabilities: caps });
    const { jobs } = await rpc(m, 'jobs.lease', { max: 1, waitMs: 0 });
    const bytes = Buffer.from(TRACE);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await fetch(`${m.url}${COMMAND_BLOB_PATH}/${sha256}`, { method: 'PUT', headers: { authorization: `Bearer ${SLAVE}`, 'content-type': 'application/octet-stream' }, body: bytes });
    const report = { ...tinyReport('keys_writer', '1.0', 'clean'), rawFiles: ['raw/install/install.strace'] }; // no findings: older rules
    await rpc(m, 'jobs.complete', { leaseId: jobs[0].leaseId, outcome: { kind: 'report', report, artifacts: [{ name: 'raw/install/install.strace', sha256, sizeBytes: bytes.length }] } });
  } finally {
    await m.close();
  }
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) };
  const env = { ...process.env, PYTI_OBSERVATIONS_TOKEN: 'pypi-observations-token-0123' };
  const saved = process.env.PYTI_OBSERVATIONS_TOKEN;
  process.env.PYTI_OBSERVATIONS_TOKEN = env.PYTI_OBSERVATIONS_TOKEN;
  try {
    expect(await runMasterCommand(['rescore', '--data', data], io)).toBe(0);
  } finally {
    if (saved === undefined) delete process.env.PYTI_OBSERVATIONS_TOKEN;
    else process.env.PYTI_OBSERVATIONS_TOKEN = saved;
  }
  expect(err.join('')).toBe('');
  const db = openDatabase(join(data, 'master.db'));
  try {
    const job = db.prepare('SELECT verdict, score, findings FROM jobs WHERE id = ?').get(id) as { verdict: string; score: number; findings: number };
    expect(['suspicious', 'malicious']).toContain(job.verdict);
    expect(job.score).toBeGreaterThanOrEqual(15);
    expect(out[0]).toBe(`[1/1] ${id} keys-writer 1.0: clean (0) → ${job.verdict} (${job.score})\n`);
    expect(out.at(-1)).toBe(`rescored 1 of 1 audits, 1 changed: 1 ${job.verdict}\n`);
    const stored = JSON.parse((db.prepare('SELECT report FROM reports').get() as { report: string }).report);
    expect(stored.findings.map((f: { rule: string }) => f.rule)).toContain('network-attempt');
    expect(stored.traces.install.stats.lines).toBe(2);
    const obs = db.prepare('SELECT project, state FROM observations').all();
    expect(obs).toEqual(job.verdict === 'malicious' ? [{ project: 'keys-writer', state: 'pending' }] : []);
  } finally {
    db.close();
  }
  // Rescoring again changes nothing.
  const again: string[] = [];
  expect(await runMasterCommand(['rescore', '--data', data], { out: (s) => void again.push(s), err: () => undefined })).toBe(0);
  expect(again.at(-1)).toMatch(/^rescored 1 of 1 audits, 0 changed/);
});
