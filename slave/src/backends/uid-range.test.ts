import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocateUidRange, type UidRange } from './uid-range.js';
import { watchUids } from './uid-witness.js';

const distModule = new URL('../../dist/backends/uid-range.js', import.meta.url).pathname;
const root = process.getuid?.() === 0;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-uids-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const overlap = (a: UidRange, b: UidRange): boolean => a.base < b.base + b.count && b.base < a.base + a.count;

test('concurrent allocations never overlap; a released range is taken again', async () => {
  const pool = { dir: join(dir, 'locks'), first: 700000, ranges: 6, count: 8, waitMs: 500 };
  const held = await Promise.all(Array.from({ length: 6 }, () => allocateUidRange(pool)));
  try {
    for (const a of held) for (const b of held) if (a !== b) expect(overlap(a, b)).toBe(false);
    // Range k: 8 task uids from 700000 + 9k, then its witness uid.
    expect(held.map((r) => [r.base, r.witnessUid]).sort()).toEqual([0, 1, 2, 3, 4, 5].map((k) => [700000 + 9 * k, 700008 + 9 * k]));
    expect(statSync(pool.dir).mode & 0o777).toBe(0o700);
    // All six held: a seventh waits, then says so with a stable code.
    await expect(allocateUidRange(pool)).rejects.toMatchObject({ code: 'PYTI_SANDBOX_UIDS_BUSY' });
    const freed = held.splice(2, 1)[0]!;
    freed.release();
    const again = await allocateUidRange({ ...pool, waitMs: 10000 });
    held.push(again);
    expect(again.base).toBe(freed.base);
  } finally {
    for (const r of held) r.release();
  }
});

test('the range of a holder killed outright is free again', async () => {
  const pool = { dir: join(dir, 'locks'), first: 710000, ranges: 1, count: 8 };
  // Another process takes the pool's only range and is then SIGKILLed: it never releases anything.
  const holder = spawn(process.execPath, ['--input-type=module', '-e',
    `import { allocateUidRange } from ${JSON.stringify(distModule)};
     const r = await allocateUidRange(${JSON.stringify(pool)}); console.log('base', r.base); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise<string>((resolve) => holder.stdout!.on('data', (d: Buffer) => resolve(d.toString())));
    expect(line.trim()).toBe('base 710000');
    await expect(allocateUidRange({ ...pool, waitMs: 300 })).rejects.toMatchObject({ code: 'PYTI_SANDBOX_UIDS_BUSY' });
    holder.kill('SIGKILL');
    const r = await allocateUidRange({ ...pool, waitMs: 10000 });
    expect(r.base).toBe(710000);
    r.release();
  } finally {
    holder.kill('SIGKILL');
  }
});

(root ? test : test.skip)('a uid-wide kill from outside the sandbox is seen by the witnesses; their own end is not; they take nothing from the uids\' process counts', async () => {
  const quiet = watchUids(720000, 2);
  await new Promise((r) => setTimeout(r, 200));
  quiet.stop();
  expect(quiet.outsideKill()).toBeUndefined();

  const w = watchUids(720008, 2);
  await new Promise((r) => setTimeout(r, 200));
  // RLIMIT_NPROC counts real uids: the witnesses' is the range's witness uid (720010), not a task's.
  expect(spawnSync('pgrep', ['-U', '720008,720009'], { encoding: 'utf8' }).stdout.trim()).toBe('');
  expect(spawnSync('pgrep', ['-U', '720010'], { encoding: 'utf8' }).stdout.trim().split('\n')).toHaveLength(2);
  // What the chroot baseline did to every sandbox sharing its uids: kill -KILL -1 as the task uid.
  spawnSync('kill', ['-KILL', '--', '-1'], { uid: 720009, gid: 720009, stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 200));
  expect(w.outsideKill()).toMatch(/uid 720009 of this sandbox was signalled from outside the sandbox .*SIGKILL/);
  w.stop();
});
