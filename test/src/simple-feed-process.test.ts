/**
 * `pyti master --feed simple` as a separate process, following the test index (another process)
 * through its PEP 691 `/simple/` API only: no XML-RPC call is ever made. Uploads become audits; the
 * master killed with SIGKILL during a burst of uploads and restarted audits every file exactly once.
 */
import { jest } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserClient } from '@pyti/master';
import { tinyWheel } from '../../master/src/testing/tiny-dists.js';
import { TestChild, eventually, freePort } from './child-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const PYTI = join(ROOT, 'bin/pyti.mjs');
const INDEX_MAIN = join(ROOT, 'test/dist/index-server/main.js');
const USER_TOKEN = 'user-token-for-the-simple-feed-test';
const ECHO = process.env.PYTI_TEST_ECHO === '1';

jest.setTimeout(3 * 60_000);

let dir: string;
let index: TestChild;
let indexUrl: string;
let master: TestChild;
let masterPort: number;
let client: UserClient;

function startMaster(): TestChild {
  return new TestChild('master', process.execPath, [
    PYTI, 'master', '--data', join(dir, 'master'), '--host', '127.0.0.1', '--port', String(masterPort),
    '--index-url', indexUrl, '--feed', 'simple', '--simple-poll-ms', '200', '--rss-poll-ms', '0',
  ], { env: { PYTI_USER_TOKEN: USER_TOKEN }, echo: ECHO });
}

async function publish(name: string, version: string): Promise<string> {
  const w = tinyWheel(name.replace(/-/g, '_'), version); // PEP 427: a wheel's name has no '-'
  const path = join(dir, 'dists', w.filename);
  writeFileSync(path, w.bytes);
  const res = await fetch(`${indexUrl}/-/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path }) });
  if (!res.ok) throw new Error(`publish ${w.filename}: ${await res.text()}`);
  return w.filename;
}

/** How many audits the subscription has of each file. */
async function auditCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const a of await client.subscriptionAudits('everything', 1000)) counts.set(a.filename, (counts.get(a.filename) ?? 0) + 1);
  return counts;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-simple-feed-'));
  mkdirSync(join(dir, 'dists'));
  const w = tinyWheel('preexisting', '1.0');
  writeFileSync(join(dir, 'dists', w.filename), w.bytes);
  index = new TestChild('index', process.execPath, [INDEX_MAIN, '--port', String(await freePort()), join(dir, 'dists', w.filename)], { echo: ECHO });
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

test('uploads become audits through /simple/ alone; a master killed mid-burst audits every file exactly once', async () => {
  await master.waitForLine(/^index: .* \(followed through \/simple\/ \(PEP 691, no XML-RPC\) once a subscription exists\)$/, 5000);
  await client.subscribe({ name: 'everything', kind: 'all' });
  await eventually('the first pass', async () => ((await client.feed()).simple?.rootSerial ?? undefined), 30_000);

  const expected = new Set<string>();
  expected.add(await publish('alpha', '1.0'));
  await eventually('alpha audited', async () => ((await auditCounts()).size === 1 ? true : undefined), 30_000);

  const burst = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      expected.add(await publish(`burst-${i}`, '1.0'));
      expected.add(await publish('alpha', `2.${i}`));
      await new Promise((r) => setTimeout(r, 80));
    }
  };
  const publishing = burst(0, 10);
  await eventually('some of the burst', async () => ((await auditCounts()).size > 3 ? true : undefined), 30_000);
  master.proc.kill('SIGKILL');
  await master.exited;
  await publishing;
  master = startMaster();
  await master.waitForLine(/pyti master listening on/, 30_000);
  const counts = await eventually('every file audited', async () => {
    const c = await auditCounts();
    return [...expected].every((f) => c.has(f)) ? c : undefined;
  }, 60_000);
  for (const [file, n] of counts) expect([file, n]).toEqual([file, 1]);
  expect([...counts.keys()].sort()).toEqual([...expected].sort());
  expect((await client.feed()).simple).toMatchObject({ lastError: null });

  // Nothing but the Simple API and the JSON API was asked: no XML-RPC.
  const requests = await (await fetch(`${indexUrl}/-/requests`)).json() as { method: string; path: string }[];
  expect(requests.filter((r) => r.method === 'POST')).toEqual([]);
  expect(requests.some((r) => r.path === '/simple/')).toBe(true);
});
