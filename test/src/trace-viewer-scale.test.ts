/**
 * The trace viewer at the scale, end to end: a real bubblewrap audit of file-sprayer (its
 * setup.py writes 20 000 files under the home), built in isolation (the host's planned build env:
 * PyPA installer fills it with ~700 files of setuptools, no pip); its report and raw data stored on a real master through
 * the command API; then the report, the JSON API, the viewer page and the raw line read back.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMasterApp, loadMasterConfig, type MasterApp } from '@pyti/master';
import { auditDistribution, BwrapBackend, type AuditOutcome } from '@pyti/slave';
import { COMMAND_BLOB_PATH, COMMAND_PROTOCOL_VERSION, renderHtml } from '@pyti/common';
import { buildFixture } from './fixture-dists.js';
import { debianWheel } from './index-fixtures.js';

const SLAVE = 'slave-token-0123456789';
const USER = 'user-token-0123456789';
const caps = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 2 };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const n = (v: number): string => v.toLocaleString('en-US').replace(/,/g, '\u202f');

let dir: string;
let audit: AuditOutcome;
let m: MasterApp;
let id: string;

async function rpc(method: string, params: unknown): Promise<any> {
  const res = await fetch(`${m.url}/rpc/v1`, { method: 'POST', headers: { authorization: `Bearer ${SLAVE}`, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const j = (await res.json()) as { result?: unknown; error?: unknown };
  if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result;
}
const get = async (path: string): Promise<{ status: number; text: string; json: () => any }> => {
  const res = await fetch(`${m.url}${path}`, { headers: { authorization: `Bearer ${USER}` } });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-trace-scale-'));
  const wheels = join(dir, 'wheels');
  mkdirSync(wheels);
  for (const p of ['setuptools', 'wheel']) cpSync(debianWheel(p), join(wheels, debianWheel(p).split('/').pop()!));
  audit = await auditDistribution({ distPath: buildFixture('file-sprayer', 'sdist'), wheelhouse: wheels, outDir: join(dir, 'out'), backend: new BwrapBackend(), parallel: 2 });
  m = await buildMasterApp(loadMasterConfig({ data: join(dir, 'master'), port: 0, slaveToken: [`s:${SLAVE}`] }, { PYTI_USER_TOKEN: USER }), { sweepIntervalMs: 0 });
  await m.listen();
  const res = await fetch(`${m.url}/api/v1/audits`, { method: 'POST', headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' }, body: JSON.stringify({ project: 'file-sprayer', version: '1.0' }) });
  id = ((await res.json()) as { id: string }).id;
  await rpc('slave.register', { protocolVersion: COMMAND_PROTOCOL_VERSION, version: '0.1.0', host: 'h', capabilities: caps });
  const { jobs } = await rpc('jobs.lease', { max: 1, waitMs: 0 });
  const artifacts = [];
  for (const name of audit.report.rawFiles.filter((f) => f.endsWith('.strace'))) {
    const bytes = readFileSync(join(audit.outDir, name));
    await fetch(`${m.url}${COMMAND_BLOB_PATH}/${sha(bytes)}`, { method: 'PUT', headers: { authorization: `Bearer ${SLAVE}`, 'content-type': 'application/octet-stream' }, body: bytes });
    artifacts.push({ name, sha256: sha(bytes), sizeBytes: bytes.length });
  }
  await rpc('jobs.complete', { leaseId: jobs[0].leaseId, outcome: { kind: 'report', report: audit.report, artifacts } });
}, 600_000);
afterAll(async () => {
  await m?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a package that writes 20 000 files, built in an isolated build env', () => {
  it('the report keeps the package\'s paths apart from the tooling\'s and says how many it shows', () => {
    const b = audit.report.traces.build!;
    expect(audit.report.build).toMatchObject({ mode: 'isolated' });
    expect(b.counts.filesByOwner!.package).toBeGreaterThanOrEqual(20_000);
    expect(b.counts.filesByOwner!.tooling).toBeGreaterThan(500);
    expect(b.files.filter((f) => f.owner === 'package')).toHaveLength(5000);
    const html = renderHtml(audit.report);
    expect(html).toContain(`<h3>The package's files: 300 of ${n(b.counts.filesByOwner!.package)} shown</h3>`);
    expect(html).toContain(`The tooling's files (pip, build environments, setuptools, PyTI): 50 of ${n(b.counts.filesByOwner!.tooling)} shown</summary>`);
  });

  it('the master serves every one of them, paged and searchable, each linked to its raw line', async () => {
    const first = (await get(`/api/v1/audits/${id}/trace?phase=build&owner=package&limit=1000`)).json();
    expect(first.totals.package).toBeGreaterThanOrEqual(20_000);
    expect(first.matched).toBe(first.totals.package);
    expect(first.rows).toHaveLength(1000);
    const last = (await get(`/api/v1/audits/${id}/trace?phase=build&owner=package&offset=${first.matched - 10}&limit=1000`)).json();
    expect(last.rows).toHaveLength(10);
    const one = (await get(`/api/v1/audits/${id}/trace?phase=build&owner=package&op=changed&q=f19999.txt`)).json();
    expect(one.matched).toBe(1);
    expect(one.rows[0]).toMatchObject({ owner: 'package', ops: ['create'] });
    expect(one.rows[0].path).toMatch(/\/\.cache\/file-sprayer\/d199\/f19999\.txt$/);
    const page = await get(`/audits/${id}/trace?phase=build&owner=package&limit=1000`);
    expect(page.text).toContain(`<b>1${'\u202f'}000 of ${n(first.matched)}</b> paths shown`);
    const raw = await get(`/audits/${id}/raw/build/build.strace?line=${one.rows[0].line}&context=2`);
    expect(raw.text).toMatch(new RegExp(`<tr id="L${one.rows[0].line}" class="hit"><td class="num"><a href="#L\\d+">\\d+</a></td><td><pre>[^<]*f19999\\.txt`));
  });
});
