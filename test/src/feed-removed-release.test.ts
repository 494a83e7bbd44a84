/**
 * A release uploaded and removed between two polls of the change log (the replay of a day of PyPI
 * found it: bench/pypi-day-replay.mjs): its JSON API answers 404, and the master used to retry that
 * 404 as if a stale cache had answered (4 retries, 7.5–15 s), holding up every audit of the page.
 * The page itself says the release was removed, so the 404 is final: read over real HTTP from the
 * test index, the page is ingested at once, the other release's audit is submitted, the removed one
 * is recorded as gone.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobQueue, SubscriptionService, openDatabase, type Db } from '@pyti/master';
import { tinyWheel } from '../../master/src/testing/tiny-dists.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

let dir: string;
let index: IndexServer;
let db: Db;
let svc: SubscriptionService;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-removed-release-'));
  index = await startIndexServer({ files: [] });
  db = openDatabase(join(dir, 'master.db'));
});
afterAll(async () => {
  await svc?.close();
  db?.close();
  await index?.close();
  rmSync(dir, { recursive: true, force: true });
});

function wheel(name: string, version: string): string {
  const w = tinyWheel(name, version);
  const path = join(dir, w.filename);
  writeFileSync(path, w.bytes);
  return path;
}

test('a release removed in the same page is not retried: the page is ingested at once', async () => {
  const queue = new JobQueue(db, { leaseMs: 60_000, maxWaitMs: 0, maxAttempts: 3, defaultBackend: 'bwrap', sweepIntervalMs: 0 });
  svc = new SubscriptionService({ db, queue, clock: { now: () => Date.now() }, indexUrl: index.url, follow: false, pollMs: 60_000, rssPollMs: 0 });
  svc.create({ name: 'all', kind: 'all' });
  await index.publish(wheel('seed', '1.0'));
  await svc.follower.pollChangelog(); // the cursor starts at the index's last serial
  await index.publish(wheel('gone', '1.0'));
  index.removeRelease('gone', '1.0');
  await index.publish(wheel('kept', '1.0'));

  const t0 = Date.now();
  await svc.follower.pollChangelog();
  const ms = Date.now() - t0;
  expect(svc.audits('all').map((a) => `${a.filename} ${a.audit.state}`)).toEqual(['kept-1.0-py3-none-any.whl queued']);
  expect(db.prepare('SELECT state FROM feed_releases WHERE normalized = ?').get('gone')).toEqual({ state: 'removed' });
  expect(svc.feedStatus()).toMatchObject({ cursor: index.lastSerial(), lastError: null });
  expect(ms).toBeLessThan(3000); // before: at least 7.5 s of retries of the 404
});
