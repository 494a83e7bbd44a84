/**
 * The trace viewer served by a real master (real socket, real SQLite, real blob store): an audit
 * completed through the command API with a real bwrap build trace (ssh-writer's isolated build, pip
 * filling a build env) and a hostile install trace (markup in paths and argv), then read through
 * the JSON API, the viewer page and the raw-line page.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { COMMAND_BLOB_PATH, COMMAND_PROTOCOL_VERSION } from '@pyti/common';
import { loadMasterConfig } from '../config.js';
import { tinyReport } from '../testing/tiny-dists.js';
import { buildMasterApp, type MasterApp } from './master-app.js';

const SLAVE = 'slave-token-0123456789';
const USER = 'user-token-0123456789';
const caps = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 2 };
const BUILD = gunzipSync(readFileSync(new URL('../../../common/src/trace/fixtures/ssh-writer-isolated-build.strace.gz', import.meta.url)));
const XSS = '<script>alert(1)</script>';
const HOSTILE = Buffer.from([
  `12 1.0 execve("/bin/sh", ["sh", "-c", "echo \\"><img src=x onerror=alert(2)>"], 0x7ffd0 /* 3 vars */) = 0`,
  `12 1.1 openat(AT_FDCWD, "/tmp/${XSS}", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 4</tmp/${XSS}>`,
  '12 1.2 +++ exited with 0 +++',
  '',
].join('\n'));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let dir: string;
let m: MasterApp;
let id: string;

async function rpc(method: string, params: unknown): Promise<any> {
  const res = await fetch(`${m.url}/rpc/v1`, { method: 'POST', headers: { authorization: `Bearer ${SLAVE}`, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const j = (await res.json()) as { result?: unknown; error?: unknown };
  if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result;
}
const get = async (path: string, token: string | null = USER): Promise<{ status: number; text: string; type: string; json: () => any }> => {
  const res = await fetch(`${m.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get('content-type') ?? '', json: () => JSON.parse(text) };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-trace-routes-'));
  m = await buildMasterApp(loadMasterConfig({ data: dir, port: 0, slaveToken: [`s:${SLAVE}`] }, { PYTI_USER_TOKEN: USER }), { sweepIntervalMs: 0 });
  await m.listen();
  const res = await fetch(`${m.url}/api/v1/audits`, { method: 'POST', headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' }, body: JSON.stringify({ project: 'ssh-writer', version: '1.0' }) });
  id = ((await res.json()) as { id: string }).id;
  await rpc('slave.register', { protocolVersion: COMMAND_PROTOCOL_VERSION, version: '0.1.0', host: 'h', capabilities: caps });
  const { jobs } = await rpc('jobs.lease', { max: 1, waitMs: 0 });
  const artifacts = [];
  for (const [name, bytes] of [['raw/build/build.strace', BUILD], ['raw/install/install.strace', HOSTILE]] as const) {
    await fetch(`${m.url}${COMMAND_BLOB_PATH}/${sha(bytes)}`, { method: 'PUT', headers: { authorization: `Bearer ${SLAVE}`, 'content-type': 'application/octet-stream' }, body: bytes });
    artifacts.push({ name, sha256: sha(bytes), sizeBytes: bytes.length });
  }
  const tiny = tinyReport('ssh_writer', '1.0', 'clean');
  const report = {
    ...tiny, rawFiles: artifacts.map((a) => a.name),
    distribution: { ...(tiny.distribution as object), summary: `keys ${XSS}`, description: `<img src=x onerror=alert(3)>\nline two`, projectUrls: [{ label: 'Source', url: 'javascript:alert(4)' }] },
    guest: { python: '3.11', platform: 'linux', machine: 'x86_64', tools: {}, agentVersion: '0.1.0', paths: { home: '/home/alex', work: '/work', tmp: '/tmp' } },
  };
  await rpc('jobs.complete', { leaseId: jobs[0].leaseId, outcome: { kind: 'report', report, artifacts } });
}, 60_000);
afterAll(async () => {
  await m?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /api/v1/audits/:id/trace', () => {
  it('answers the package\'s files of the first traced phase by default, with counts by owner', async () => {
    const r = await get(`/api/v1/audits/${id}/trace`);
    expect(r.status).toBe(200);
    const a = r.json();
    expect(a).toMatchObject({ audit: id, phase: 'build', kind: 'files', file: 'raw/build/build.strace', phases: ['build', 'install'], offset: 0, limit: 100 });
    expect(a.totals.all).toBeGreaterThan(3000);
    expect(a.totals.tooling).toBeGreaterThan(3000);
    expect(a.matched).toBe(a.totals.package);
    expect(a.rows.every((f: { owner: string }) => f.owner === 'package')).toBe(true);
    const key = a.rows.find((f: { path: string }) => f.path === '/home/alex/.ssh/authorized_keys');
    expect(key).toMatchObject({ owner: 'package', ops: ['create'] });
    expect(BUILD.toString('utf8').split('\n')[key.line - 1]).toContain('authorized_keys');
  });

  it('pages, filters by owner and searches', async () => {
    const all = (await get(`/api/v1/audits/${id}/trace?phase=build&kind=files&owner=tooling&offset=0&limit=1000`)).json();
    const page = (await get(`/api/v1/audits/${id}/trace?phase=build&kind=files&owner=tooling&offset=100&limit=50`)).json();
    expect(page.rows).toHaveLength(50);
    expect(page.rows[0]).toEqual(all.rows[100]);
    expect(page.matched).toBe(all.totals.tooling);
    const search = (await get(`/api/v1/audits/${id}/trace?phase=build&owner=all&q=${encodeURIComponent('/.ssh/')}`)).json();
    expect(search.matched).toBe(2);
    const written = (await get(`/api/v1/audits/${id}/trace?phase=build&owner=all&op=changed&q=${encodeURIComponent('/.ssh/')}`)).json();
    expect(written.rows.map((f: { path: string }) => f.path)).toEqual(['/home/alex/.ssh/authorized_keys']);
    const procs = (await get(`/api/v1/audits/${id}/trace?kind=processes&owner=package`)).json();
    expect(procs.rows.map((p: { argv: string[] }) => p.argv.join(' '))).toEqual(expect.arrayContaining([expect.stringContaining('_in_process.py build_wheel')]));
  });

  it('refuses bad queries with PYTI_USAGE, unknown audits and phases with 404, no token with 401', async () => {
    for (const [q, field] of [['kind=secrets', 'kind'], ['owner=me', 'owner'], ['phase=test', 'phase'], ['limit=100000', 'limit'], ['offset=-1', 'offset'], ['op=steal', 'op'], ['kind=processes&op=read', 'op'], ['kind=network&op=read', 'op']]) {
      const r = await get(`/api/v1/audits/${id}/trace?${q}`);
      expect(r.status).toBe(400);
      expect(r.json().error.code).toBe('PYTI_USAGE');
      expect(r.json().error.message).toContain(field);
    }
    expect((await get(`/api/v1/audits/${id}/trace?phase=execute`)).json().error.code).toBe('PYTI_JOB_NOT_FOUND');
    expect((await get(`/api/v1/audits/nope/trace`)).status).toBe(404);
    expect((await get(`/api/v1/audits/${id}/trace`, null)).status).toBe(401);
    expect((await get(`/audits/${id}/trace`, null)).status).toBe(401);
    expect((await get(`/audits/${id}/raw/build/build.strace?line=1`, null)).status).toBe(401);
  });
});

describe('the trace viewer page and the raw line', () => {
  it('shows counts, paging links, owner tabs and links each row to its raw line', async () => {
    const r = await get(`/audits/${id}/trace?phase=build&kind=files&owner=tooling&limit=100`);
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/html');
    const a = (await get(`/api/v1/audits/${id}/trace?phase=build&owner=tooling`)).json();
    expect(r.text).toContain(`<b>100 of ${a.matched.toLocaleString('en-US').replace(/,/g, '\u202f')}</b> paths shown`);
    expect(r.text).toContain(`href="/audits/${id}/trace?phase=build&amp;kind=files&amp;owner=tooling&amp;offset=100">next ›</a>`);
    expect(r.text).toMatch(new RegExp(`href="/audits/${id}/raw/build/build.strace\\?line=\\d+#L\\d+">build.strace:\\d+</a>`));
    expect(r.text).not.toMatch(/<script|\son[a-z]+=/i);
    const changed = await get(`/audits/${id}/trace?phase=build&kind=files&owner=package&op=changed`);
    expect(changed.text).toContain('<option value="changed" selected>changed (not only read)</option>');
    expect(changed.text).toContain('with operation <code>changed</code>');
    expect(changed.text).toContain(`href="/audits/${id}/trace?phase=build&amp;kind=processes&amp;owner=package">processes`);
  });

  it('draws the process tree as nested <details>, the package\'s subtrees open', async () => {
    const r = await get(`/audits/${id}/trace?phase=build&kind=processes&owner=all`);
    expect(r.status).toBe(200);
    expect(r.text).toContain('<ul class="ptree">');
    expect(r.text).toMatch(/<details open><summary><code>\d+<\/code> <span class="owner-tooling">tooling<\/span> <code>\/usr\/bin\/python3 -m build --wheel/);
    expect(r.text).toMatch(/<details><summary><code>\d+<\/code> <span class="owner-tooling">tooling<\/span> <code>\/tmp\/build-env-[^ ]+ -Im pip install/);
  });

  it('the raw line page highlights the evidence line in escaped context', async () => {
    const lines = BUILD.toString('utf8').split('\n');
    const n = lines.findIndex((l) => l.includes('"/home/alex/.ssh/authorized_keys"')) + 1;
    const r = await get(`/audits/${id}/raw/build/build.strace?line=${n}&context=3`);
    expect(r.status).toBe(200);
    expect(r.text).toContain(`<tr id="L${n}" class="hit">`);
    expect(r.text).toContain(`<tr id="L${n - 3}">`);
    expect(r.text).not.toContain(`<tr id="L${n - 4}">`);
    expect(r.text).toContain('/home/alex/.ssh/authorized_keys');
    expect(r.text).toContain('O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC');
    expect((await get(`/audits/${id}/raw/build/build.strace?line=99999999`)).text).toContain('The file has no line 99999999.');
    expect((await get(`/audits/${id}/raw/build/..%2F..%2Fmaster.db?line=1`)).status).toBe(400);
    expect((await get(`/audits/${id}/raw/build/none.strace?line=1`)).status).toBe(404);
  });

  it('escapes hostile paths and argv everywhere', async () => {
    const files = await get(`/audits/${id}/trace?phase=install&kind=files&owner=all`);
    expect(files.text).toContain('/tmp/&lt;script&gt;alert(1)&lt;/script&gt;');
    const procs = await get(`/audits/${id}/trace?phase=install&kind=processes&owner=all&q=${encodeURIComponent('"><img')}`);
    expect(procs.text).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(procs.text).toContain('value="&quot;&gt;&lt;img"');
    const raw = await get(`/audits/${id}/raw/install/install.strace?line=2`);
    expect(raw.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    for (const t of [files.text, procs.text, raw.text]) {
      expect(t).not.toContain(XSS);
      expect(t).not.toContain('<img');
    }
    const json = (await get(`/api/v1/audits/${id}/trace?phase=install&owner=all`)).json();
    expect(json.rows.map((f: { path: string }) => f.path)).toContain(`/tmp/${XSS}`);
  });
});

describe('the audit page', () => {
  it('links each traced phase to the viewer and shows the package metadata, escaped', async () => {
    const r = await get(`/audits/${id}`);
    expect(r.status).toBe(200);
    expect(r.text).toContain('<h2>Trace viewer</h2>');
    expect(r.text).toContain(`<a href="/audits/${id}/trace?phase=build&amp;kind=files&amp;owner=package">files</a>`);
    expect(r.text).toContain(`<a href="/audits/${id}/trace?phase=install&amp;kind=processes&amp;owner=package">processes</a>`);
    expect(r.text).toContain('<dt>summary</dt><dd>keys &lt;script&gt;alert(1)&lt;/script&gt;</dd>');
    expect(r.text).toContain('<pre>&lt;img src=x onerror=alert(3)&gt;\nline two</pre>');
    expect(r.text).toContain('<code>javascript:alert(4)</code>');
    // Outside the report's frame (whose srcdoc is escaped once more), nothing hostile is markup.
    const outside = r.text.replace(/<iframe[^>]*><\/iframe>/, '');
    expect(outside).not.toContain(XSS);
    expect(outside).not.toContain('<img');
    expect(outside).not.toMatch(/href="javascript:/i);
  });
});
