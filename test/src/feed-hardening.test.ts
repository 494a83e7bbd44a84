/**
 * A hostile or broken change log cannot stop the master following the index (issue 14, item 6): a real
 * master (its feed follower, change-log reader and JSON API reader) against the test index, whose
 * fault injection serves poison change-log entries (serial 2^31, 2^31 − 1, 2^53 + 1, a string) and
 * broken release documents (not JSON, a bad file entry, another project's document).
 *
 * - a poisoned entry is quarantined with PYTI_FEED_SERIAL_INVALID, the cursor stays at the index's own
 *   last serial, and uploads after it are still audited (nothing skipped, no error on the feed);
 * - a cursor an earlier PyTI left at 2^31 is moved back to the index's last serial, not refused forever;
 * - a release whose JSON document is unusable is quarantined with its code; the other releases of the
 *   same page are audited and the cursor moves on;
 * - so is a release whose JSON document redirects off the index (PYTI_INDEX_HOST_REFUSED): refused on
 *   every try, it must not stall the change log;
 * - every quarantined item is visible at GET /api/v1/feed/quarantine, counted in GET /api/v1/feed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMasterApp, loadMasterConfig, type MasterApp } from '@pyti/master';
import { ManualTimers } from '../../master/src/subscriptions/subscription-test-kit.js';
import { main } from '../../master/src/cli/main.js';
import { cliIO } from '../../master/src/testing/cli-test-kit.js';
import { tinyWheel } from '../../master/src/testing/tiny-dists.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

const USER = 'user-token-feed-hardening-0123';

let tmp: string;
let server: IndexServer;
let m: MasterApp;
const log: string[] = [];

async function publish(name: string, version: string): Promise<number> {
  const w = tinyWheel(name, version);
  const path = join(tmp, w.filename);
  writeFileSync(path, w.bytes);
  return server.publish(path);
}

async function api(path: string): Promise<any> {
  const res = await fetch(`${m.url}${path}`, { headers: { authorization: `Bearer ${USER}` } });
  expect(res.status).toBe(200);
  return res.json();
}

/** `project==version filename` of every audit of the subscription. */
async function audited(): Promise<string[]> {
  return (await api('/api/v1/subscriptions/watch/audits?limit=1000')).audits.map((a: any) => `${a.project}==${a.version} ${a.filename}`).sort();
}

const poll = () => m.subscriptions.follower.pollChangelog();

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'pyti-feed-hardening-'));
  server = await startIndexServer({ files: [], serialBase: 7000 });
  await publish('seed', '1.0');
  const config = loadMasterConfig({ data: join(tmp, 'master'), host: '127.0.0.1', port: 0, indexUrl: server.url, pollMs: 3_600_000, rssPollMs: 0, follow: false }, { PYTI_USER_TOKEN: USER });
  m = await buildMasterApp(config, { feeds: { log: (l) => log.push(l), timers: new ManualTimers() } });
  await m.listen();
  const res = await fetch(`${m.url}/api/v1/subscriptions`, {
    method: 'POST', headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'watch', kind: 'projects', projects: ['alpha', 'beta', 'gamma', 'delta', 'epsilon'] }),
  });
  expect(res.status).toBe(201);
  await poll(); // the first poll starts the cursor at the index's last serial
});

afterAll(async () => {
  await m?.close();
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('poisoned serials are quarantined; the cursor stays at the index\'s last serial and later uploads are audited', async () => {
  expect((await api('/api/v1/feed')).cursor).toBe(server.lastSerial());
  server.injectFaults({
    poisonEntries: [
      { name: 'alpha', version: '6.6', action: 'new release', serial: 2 ** 31 - 1 },
      { name: 'alpha', version: '6.6', action: 'add py3 file alpha-6.6-py3-none-any.whl', serial: 2 ** 31 },
      { name: 'alpha', version: '7.7', action: 'new release', serial: '9007199254740993', serialType: 'int' },
      { name: 'alpha', version: '8.8', action: 'new release', serial: 'not a serial' },
    ],
  });
  await publish('alpha', '1.0');
  await poll();
  let feed = await api('/api/v1/feed');
  expect(feed).toMatchObject({ cursor: server.lastSerial(), lastError: null, quarantined: 4 });
  expect(await audited()).toEqual(['alpha==1.0 alpha-1.0-py3-none-any.whl']);
  const q = (await api('/api/v1/feed/quarantine')).items;
  expect(q.map((i: any) => [i.source, i.code, i.serial]).sort()).toEqual([
    ['changelog', 'PYTI_FEED_SERIAL_INVALID', '2147483647'],
    ['changelog', 'PYTI_FEED_SERIAL_INVALID', '2147483648'],
    ['changelog', 'PYTI_FEED_SERIAL_INVALID', '9007199254740993'],
    ['changelog', 'PYTI_FEED_SERIAL_INVALID', 'not a serial'],
  ]);
  expect(q.find((i: any) => i.serial === '2147483648').reason).toMatch(/beyond the index's last serial/);
  expect(log.filter((l) => /PYTI_FEED_SERIAL_INVALID: quarantined alpha 6\.6 \(serial 2147483648\)/.test(l))).toHaveLength(1);

  // The poison is still served: polls go on, nothing new is quarantined twice, later uploads are audited.
  await publish('beta', '1.0');
  await poll();
  await poll();
  feed = await api('/api/v1/feed');
  expect(feed).toMatchObject({ cursor: server.lastSerial(), lastError: null, quarantined: 4 });
  expect(await audited()).toEqual(['alpha==1.0 alpha-1.0-py3-none-any.whl', 'beta==1.0 beta-1.0-py3-none-any.whl']);
  expect((await api('/api/v1/feed/quarantine')).items.every((i: any) => i.seen >= 3)).toBe(true);
  server.injectFaults({ poisonEntries: [] });
});

test('a cursor left beyond the index\'s last serial (2^31) is moved back instead of failing every poll', async () => {
  // What an earlier PyTI did with the poisoned entry: the cursor jumped to it.
  const db = (m.subscriptions.cursor as unknown as { st: { rewind: { run(s: number, u: string): void } } }).st;
  db.rewind.run(2 ** 31, m.subscriptions.cursor.indexUrl);
  expect((await api('/api/v1/feed')).cursor).toBe(2 ** 31);
  await poll();
  const feed = await api('/api/v1/feed');
  expect(feed).toMatchObject({ cursor: server.lastSerial(), lastError: null });
  const item = (await api('/api/v1/feed/quarantine')).items.find((i: any) => i.source === 'cursor');
  expect(item).toMatchObject({ code: 'PYTI_FEED_SERIAL_INVALID', serial: '2147483648' });
  await publish('alpha', '2.0');
  await poll();
  expect(await audited()).toContain('alpha==2.0 alpha-2.0-py3-none-any.whl');
});

test('a release with an unusable JSON document is quarantined; the rest of the change log is audited', async () => {
  server.injectFaults({ badRelease: { project: 'gamma', kind: 'not-json' } });
  server.injectFaults({ badRelease: { project: 'delta', kind: 'bad-file' } });
  server.injectFaults({ badRelease: { project: 'epsilon', kind: 'other-project' } });
  await publish('gamma', '1.0');
  await publish('delta', '1.0');
  await publish('beta', '2.0');
  await publish('epsilon', '1.0');
  await poll();
  const feed = await api('/api/v1/feed');
  expect(feed).toMatchObject({ cursor: server.lastSerial(), lastError: null });
  const audits = await audited();
  expect(audits).toContain('beta==2.0 beta-2.0-py3-none-any.whl');
  expect(audits.filter((a) => /^(gamma|delta|epsilon)==/.test(a))).toEqual([]);
  const releases = (await api('/api/v1/feed/quarantine')).items.filter((i: any) => i.source === 'release');
  expect(releases.map((i: any) => [i.name, i.version, i.code]).sort()).toEqual([
    ['delta', '1.0', 'PYTI_INDEX_MALFORMED'],
    ['epsilon', '1.0', 'PYTI_INDEX_MISMATCH'],
    ['gamma', '1.0', 'PYTI_INDEX_MALFORMED'],
  ]);
  expect(log.some((l) => /release\(s\) quarantined/.test(l))).toBe(true);

  // `pyti subscribe show` says so too.
  const io = cliIO();
  expect(await main(['subscribe', 'show', 'watch', '--master', m.url!, '--token', USER], io)).toBe(0);
  expect(io.stdout).toMatch(/quarantined +\d+ change-log entries, releases or pages set aside/);

  // Once the index serves gamma properly, its next upload is audited as usual.
  server.injectFaults({ badRelease: { project: 'gamma', kind: null } });
  await publish('gamma', '1.1');
  await poll();
  expect(await audited()).toContain('gamma==1.1 gamma-1.1-py3-none-any.whl');
});

test('a release whose JSON document redirects off the index is quarantined (PYTI_INDEX_HOST_REFUSED); the change log goes on', async () => {
  server.injectFaults({ badRelease: { project: 'delta', kind: 'redirect-away' } });
  await publish('delta', '2.0');
  await publish('alpha', '3.0');
  await poll();
  const feed = await api('/api/v1/feed');
  expect(feed).toMatchObject({ cursor: server.lastSerial(), lastError: null });
  const audits = await audited();
  expect(audits).toContain('alpha==3.0 alpha-3.0-py3-none-any.whl');
  expect(audits.filter((a) => a.startsWith('delta==2.0'))).toEqual([]);
  const item = (await api('/api/v1/feed/quarantine')).items.find((i: any) => i.source === 'release' && i.name === 'delta' && i.version === '2.0');
  expect(item).toMatchObject({ code: 'PYTI_INDEX_HOST_REFUSED' });
  expect(item.reason).toMatch(/pyti-elsewhere\.invalid/);
  server.injectFaults({ badRelease: { project: 'delta', kind: null } });
});
