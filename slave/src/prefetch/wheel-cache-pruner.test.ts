// Pruning the slave's wheel cache on a real directory: wheels committed as a prefetch commits them,
// then pruned by age and by size, least recently used first (a commit that re-resolves a cached wheel
// renews it); never while a prefetch holds a use of the cache, in this process or another.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockCacheEntry } from '../backends/cache-lock.js';
import { WheelCache, type CachedWheel } from './wheel-cache.js';
import { pruneWheelCache } from './wheel-cache-pruner.js';

const DAY = 86_400_000;
const KiB = 1024;

describe('wheel cache pruning', () => {
  let root: string;
  let cache: WheelCache;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'pyti-wheels-'));
    cache = new WheelCache(join(root, 'wheels'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** A pip run that "downloads" wheels of `sizes` KiB, committed through the cache. */
  const commit = async (wheels: Record<string, number>): Promise<CachedWheel[]> => {
    const dir = cache.stage();
    for (const [name, kib] of Object.entries(wheels)) if (!existsSync(join(dir, name))) writeFileSync(join(dir, name), Buffer.alloc(kib * KiB, name));
    try {
      return await cache.commit(dir, Object.keys(wheels));
    } finally {
      cache.unstage(dir);
    }
  };
  const lastUsed = (w: CachedWheel, msAgo: number) => utimesSync(w.path, new Date(Date.now() - msAgo), new Date(Date.now() - msAgo));
  const names = () => [...cache.entries().keys()].sort();

  it('drops wheels unused for longer than the max age, then the least recently used beyond the max size', async () => {
    const [a, b, c, d] = await commit({ 'a-1.0-py3-none-any.whl': 100, 'b-1.0-py3-none-any.whl': 100, 'c-1.0-py3-none-any.whl': 100, 'd-1.0-py3-none-any.whl': 100 });
    lastUsed(a!, 40 * DAY);
    lastUsed(b!, 10 * DAY);
    lastUsed(c!, 2 * DAY);
    lastUsed(d!, 3 * DAY);

    const byAge = await pruneWheelCache(cache, { maxAgeMs: 30 * DAY, maxBytes: null });
    expect(byAge).toEqual({ deleted: [expect.objectContaining({ filenames: ['a-1.0-py3-none-any.whl'], sizeBytes: 100 * KiB, reason: 'age' })], kept: { count: 3, bytes: 300 * KiB } });
    expect(names()).toEqual(['b-1.0-py3-none-any.whl', 'c-1.0-py3-none-any.whl', 'd-1.0-py3-none-any.whl']);
    expect(existsSync(a!.path)).toBe(false);

    // b is used again by a later pip run (already cached): it becomes the most recently used.
    const again = await commit({ 'b-1.0-py3-none-any.whl': 100 });
    expect(again).toEqual([expect.objectContaining({ filename: 'b-1.0-py3-none-any.whl', cached: true })]);
    const bySize = await pruneWheelCache(cache, { maxAgeMs: null, maxBytes: 150 * KiB });
    expect('deleted' in bySize && bySize.deleted.map((w) => [w.filenames[0], w.reason])).toEqual([['d-1.0-py3-none-any.whl', 'size'], ['c-1.0-py3-none-any.whl', 'size']]);
    expect(names()).toEqual(['b-1.0-py3-none-any.whl']);
    // No link is left pointing nowhere, and a later run downloads what went (it is not "cached").
    expect(readdirSync(cache.byName).sort()).toEqual(['b-1.0-py3-none-any.whl']);
    expect((await commit({ 'c-1.0-py3-none-any.whl': 100 }))[0]!.cached).toBe(false);
  });

  it('never prunes while a prefetch uses the cache, in this process or another; a prefetch waits for a prune', async () => {
    const [a] = await commit({ 'a-1.0-py3-none-any.whl': 10 });
    lastUsed(a!, 100 * DAY);
    const policy = { maxAgeMs: 30 * DAY, maxBytes: null };

    // A prefetch in this process.
    const during = await cache.use(async () => pruneWheelCache(cache, policy));
    expect(during).toEqual({ busy: '1 prefetch using it' });
    expect(existsSync(a!.path)).toBe(true);

    // A prefetch of another live process (a use file named by its pid), then of one that died.
    const other = spawn('sleep', ['30']);
    const users = join(cache.root, 'users');
    writeFileSync(join(users, `${other.pid}-x`), '');
    expect(await pruneWheelCache(cache, policy)).toEqual({ busy: '1 prefetch using it' });
    other.kill('SIGKILL');
    await new Promise((r) => other.once('exit', r));
    const after = await pruneWheelCache(cache, policy);
    expect('deleted' in after && after.deleted.length).toBe(1);
    expect(readdirSync(users)).toEqual([]);

    // While a prune holds the gate, a prefetch does not start.
    const release = await lockCacheEntry(join(cache.root, 'gc'), 1000);
    let ran = false;
    const use = cache.use(async () => {
      ran = true;
    });
    await new Promise((r) => setTimeout(r, 800));
    expect(ran).toBe(false);
    release();
    await use;
    expect(ran).toBe(true);
  });

  it('removes temp files of commits that died', async () => {
    mkdirSync(cache.bySha, { recursive: true });
    writeFileSync(join(cache.bySha, `${'0'.repeat(64)}.whl.tmp-1234abcd`), 'half');
    expect(await pruneWheelCache(cache, { maxAgeMs: null, maxBytes: null })).toEqual({ deleted: [], kept: { count: 0, bytes: 0 } });
    expect(readdirSync(cache.bySha)).toEqual([]);
  });
});
