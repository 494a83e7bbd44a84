// The running master's periodic gc (--gc-interval): off by default; when on, each interval deletes
// what the policy lets go and logs one line; a failing run is logged and the timer goes on. And a
// blob re-used between a gc's plan and its run is kept (the file's renewed time is checked last).
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobStore } from '../blobs/blob-store.js';
import { openDatabase, type Db } from '../db/database.js';
import { RetentionGc } from './retention-gc.js';
import { loadRetentionConfig } from './retention-config.js';

describe('periodic gc', () => {
  let dir: string;
  let db: Db;
  let blobs: BlobStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-gc-'));
    db = openDatabase(join(dir, 'master.db'));
    blobs = new BlobStore(join(dir, 'blobs'), join(dir, 'tmp'));
    jest.useFakeTimers({ doNotFake: ['Date', 'performance', 'nextTick', 'setImmediate', 'queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a blob uploaded again between the plan and the run (its time is renewed), and deletes it once old again', async () => {
    const data = Buffer.from('a slave result uploaded twice');
    const sha256 = blobs.putBuffer(data).sha256;
    const old = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(blobs.pathOf(sha256), old, old);
    const gc = new RetentionGc({ db, blobs, policy: loadRetentionConfig({}, {}) });
    const plan = await gc.plan();
    expect(plan.items.map((i) => [i.kind, i.name])).toEqual([['orphan', sha256]]);
    expect(blobs.putBuffer(data)).toEqual({ sha256, sizeBytes: data.length, created: false }); // renews the stored file
    expect(await gc.run(plan)).toEqual({ deleted: [], skipped: [{ item: plan.items[0], why: 're-used during gc' }] });
    expect(blobs.has(sha256)).toBe(true);
    expect(db.prepare('SELECT COUNT(*) AS n FROM pruned_blobs').get()).toEqual({ n: 0 });
    utimesSync(blobs.pathOf(sha256), old, old);
    expect((await gc.collect()).result.deleted.map((i) => i.name)).toEqual([sha256]);
    expect(blobs.has(sha256)).toBe(false);
  });

  it('collects every interval when configured, never when not', async () => {
    const orphan = blobs.putBuffer(Buffer.from('nothing names me')).sha256;
    const old = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(blobs.pathOf(orphan), old, old);
    const lines: string[] = [];

    const off = new RetentionGc({ db, blobs, policy: loadRetentionConfig({}, {}), log: (l) => lines.push(l) });
    off.start();
    jest.advanceTimersByTime(24 * 3_600_000);
    await off.idle();
    expect(blobs.has(orphan)).toBe(true);
    expect(lines).toEqual([]);

    const on = new RetentionGc({ db, blobs, policy: loadRetentionConfig({ gcInterval: '10m' }, {}), log: (l) => lines.push(l) });
    on.start();
    jest.advanceTimersByTime(9 * 60_000);
    await on.idle();
    expect(blobs.has(orphan)).toBe(true);
    jest.advanceTimersByTime(60_000);
    await on.idle();
    expect(blobs.has(orphan)).toBe(false);
    expect(lines).toEqual(['gc: deleted 0 archive, 0 raw, 1 orphan (16 B), 0 temp; blobs now 0 B']);
    expect(db.prepare('SELECT kind, size, reason FROM pruned_blobs WHERE sha256 = ?').get(orphan)).toEqual({ kind: 'orphan', size: 16, reason: 'unreferenced' });

    // A run that fails (the database went away) is logged; the next interval tries again.
    db.close();
    jest.advanceTimersByTime(10 * 60_000);
    await on.idle();
    expect(lines[1]).toMatch(/^gc failed \(tried again in 600 s\): /);
    await on.stop();
    db = openDatabase(join(dir, 'master.db'));
  });
});
