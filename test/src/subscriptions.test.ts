/**
 * Subscriptions end to end, every component a separate process: the test index (XML-RPC change log,
 * RSS, JSON API, publishing while it runs) and `pyti master --index-url <index>` polling it. No slave:
 * the audits the subscriptions submit stay queued, which is what this test looks at.
 *
 * - releases published while the master runs become audits of the subscriptions that match them
 *   (projects, pattern, new projects), with their priority and backend, the sdist and the pure wheel;
 * - a yanked release's queued audits are cancelled and marked yanked;
 * - the master killed with SIGKILL while releases are being published, more published while it is
 *   down, then restarted: every expected audit exists exactly once — nothing replayed twice, nothing
 *   missed; a release removed while it was down is not audited.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserClient, type AuditSummary } from '@pyti/master';
import { tinyWheel } from '../../master/src/testing/tiny-dists.js';
import { TestChild, eventually, freePort } from './child-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const PYTI = join(ROOT, 'bin/pyti.mjs');
const INDEX_MAIN = join(ROOT, 'test/dist/index-server/main.js');
const USER_TOKEN = 'user-token-for-the-subscriptions-test';
const ECHO = process.env.PYTI_TEST_ECHO === '1';

jest.setTimeout(5 * 60_000);

let dir: string;
let index: TestChild;
let indexUrl: string;
let master: TestChild;
let masterPort: number;
let client: UserClient;

function startMaster(): TestChild {
  return new TestChild('master', process.execPath, [
    PYTI, 'master', '--data', join(dir, 'master'), '--host', '127.0.0.1', '--port', String(masterPort),
    '--index-url', indexUrl, '--poll-ms', '300', '--rss-poll-ms', '300',
  ], { env: { PYTI_USER_TOKEN: USER_TOKEN }, echo: ECHO });
}

/** Writes a tiny pure wheel of name==version; returns its path. */
function wheel(name: string, version: string): string {
  const w = tinyWheel(name.replace(/-/g, '_'), version);
  const path = join(dir, 'dists', w.filename);
  writeFileSync(path, w.bytes);
  return path;
}

/** Writes a tiny sdist (`name-version/PKG-INFO`) with tar; returns its path. */
function sdist(name: string, version: string): string {
  const base = `${name.replace(/-/g, '_')}-${version}`;
  const src = join(dir, 'src', base);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'PKG-INFO'), `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: a test sdist\n`);
  writeFileSync(join(src, 'setup.py'), 'from setuptools import setup\nsetup()\n');
  const path = join(dir, 'dists', `${base}.tar.gz`);
  execFileSync('tar', ['-czf', path, '-C', join(dir, 'src'), base]);
  return path;
}

async function admin(op: string, body: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${indexUrl}/-/${op}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await res.json() as { serial?: number; error?: string };
  if (!res.ok) throw new Error(`index ${op}: ${j.error}`);
  return j.serial!;
}
const publish = (path: string) => admin('publish', { path });

/** Every audit the master has (all pages). */
async function allAudits(): Promise<AuditSummary[]> {
  const out: AuditSummary[] = [];
  for (let after: string | undefined; ;) {
    const page = await client.list({ limit: 500, after });
    out.push(...page);
    if (page.length < 500) return out;
    after = page[page.length - 1]!.id;
  }
}

/** `subscription/filename` of every audit a subscription submitted. */
async function auditsOf(name: string): Promise<string[]> {
  return (await client.subscriptionAudits(name, 1000)).map((a) => a.filename).sort();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-subscriptions-'));
  mkdirSync(join(dir, 'dists'));
  index = new TestChild('index', process.execPath, [INDEX_MAIN, '--port', String(await freePort()), '--serial-base', '5000', wheel('preexisting', '1.0')], { echo: ECHO });
  indexUrl = JSON.parse((await index.waitForLine(/^\{"url".*$/, 30_000))[0]).url;
  masterPort = await freePort();
  master = startMaster();
  await master.waitForLine(/pyti master listening on/, 30_000);
  client = new UserClient({ url: `http://127.0.0.1:${masterPort}`, token: USER_TOKEN, retry: { retries: 10, baseDelayMs: 200 } });
});

afterAll(async () => {
  await master?.stop('SIGTERM');
  await index?.stop('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('uploads become audits; a yank cancels them; a master killed and restarted replays nothing twice and misses nothing', async () => {
  await master.waitForLine(/^index: .* \(followed once a subscription exists\)$/, 5000);
  await client.subscribe({ name: 'web', kind: 'projects', projects: ['Alpha', 'beta'], priority: 9, backend: 'qemu' });
  await client.subscribe({ name: 'fresh', kind: 'new-projects' });
  await client.subscribe({ name: 'gam', kind: 'pattern', pattern: 'gamma*' });
  await eventually('the first poll', async () => (await client.feed()).cursor ?? undefined, 30_000);
  const start = await client.feed();
  expect(start).toMatchObject({ following: true, lag: 0, lastError: null });
  await master.waitForLine(new RegExp(`change log: starting at serial ${start.cursor}`), 5000);

  // A new project with an sdist and a wheel; a new release of the pre-existing project; a pattern match.
  await publish(sdist('alpha', '1.0'));
  await publish(wheel('alpha', '1.0'));
  await publish(wheel('preexisting', '2.0'));
  await publish(wheel('gamma-ray', '0.1'));
  await admin('noise', { name: 'alpha', action: 'add Owner alice' });
  await eventually('the audits of alpha and gamma-ray', async () => ((await auditsOf('gam')).length === 1 && (await auditsOf('web')).length === 2 ? true : undefined), 30_000);
  expect(await auditsOf('web')).toEqual(['alpha-1.0.tar.gz', 'alpha-1.0-py3-none-any.whl'].sort());
  expect(await auditsOf('fresh')).toEqual(['alpha-1.0.tar.gz', 'alpha-1.0-py3-none-any.whl', 'gamma_ray-0.1-py3-none-any.whl'].sort());
  const webAudit = (await client.subscriptionAudits('web'))[0]!.audit;
  expect([webAudit.state, webAudit.priority, webAudit.backend, webAudit.source, webAudit.project]).toEqual(['queued', 9, 'qemu', 'index', 'alpha']);
  // The index's upload time of the file is recorded: the audit's upload-to-verdict latency counts from it.
  const gammaAudit = (await client.subscriptionAudits('gam'))[0]!.audit;
  const published = (await (await fetch(`${indexUrl}/pypi/gamma-ray/0.1/json`)).json()) as { urls: { upload_time_iso_8601: string }[] };
  expect((await client.get(gammaAudit.id)).verdictLatency).toEqual({ from: 'upload', since: new Date(Date.parse(published.urls[0]!.upload_time_iso_8601)).toISOString(), ms: null });

  // A yank cancels the queued audits of the release, and marks them.
  await admin('yank', { name: 'alpha', version: '1.0', reason: 'broken' });
  await eventually('the yank', async () => {
    const a = await client.subscriptionAudits('web');
    return a.every((x) => x.audit.state === 'cancelled' && x.releaseState === 'yanked') ? a : undefined;
  }, 30_000);
  expect((await client.subscription('web')).counts).toMatchObject({ submitted: 2, cancelled: 2, queued: 0 });

  // Releases published while the master runs, is killed (SIGKILL), is down, and restarts.
  const expected = new Map<string, string[]>(); // filename → subscriptions
  const burst = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const n = `gamma-${i}`;
      await publish(wheel(n, '1.0'));
      expected.set(`gamma_${i}-1.0-py3-none-any.whl`, ['fresh', 'gam']);
      await publish(wheel('beta', `${i}.0`));
      expected.set(`beta-${i}.0-py3-none-any.whl`, i === 0 ? ['fresh', 'web'] : ['web']);
      await new Promise((r) => setTimeout(r, 100)); // spread over several polls
    }
  };
  const publishing = burst(0, 12);
  await eventually('some of the burst', async () => ((await auditsOf('gam')).length > 2 ? true : undefined), 30_000);
  master.proc.kill('SIGKILL'); // while releases are being published and polled
  await master.exited;
  await publishing;
  const last = await admin('remove-release', { name: 'beta', version: '11.0' });
  master = startMaster();
  await master.waitForLine(/pyti master listening on/, 30_000);
  await eventually('the cursor to catch up', async () => {
    const f = await client.feed();
    return f.cursor !== null && f.cursor >= last ? f : undefined;
  }, 60_000);

  // beta 11.0 was removed before the restarted master read it (nothing to audit: the index answers 404),
  // or, if the master read it before the kill, its audit is cancelled and marked removed.
  const beta11 = (await client.subscriptionAudits('web', 1000)).find((a) => a.version === '11.0');
  if (beta11) expect([beta11.audit.state, beta11.releaseState]).toEqual(['cancelled', 'removed']);
  else expected.delete('beta-11.0-py3-none-any.whl');
  const audits = await allAudits();
  const byFile = new Map<string, number>();
  for (const a of audits) byFile.set(a.filename!, (byFile.get(a.filename!) ?? 0) + 1);
  const subsOf = async (name: string) => (await client.subscriptionAudits(name, 1000)).map((a) => a.filename);
  const got = new Map<string, string[]>();
  for (const s of ['fresh', 'gam', 'web']) for (const f of await subsOf(s)) got.set(f, [...(got.get(f) ?? []), s].sort());
  for (const [file, subs] of expected) expect([file, got.get(file)]).toEqual([file, subs]);
  // One audit per file and backend, shared by the subscriptions that match it ('web' audits on qemu, the others on the default bwrap).
  const backendOf: Record<string, string> = { fresh: 'bwrap', gam: 'bwrap', web: 'qemu' };
  for (const [file, n] of byFile) expect([file, n]).toEqual([file, new Set((got.get(file) ?? []).map((s) => backendOf[s])).size]);
  expect(audits.some((a) => a.project === 'preexisting')).toBe(false);
  expect(await client.feed()).toMatchObject({ lag: 0, lastError: null, rss: { lastError: null } });
});
