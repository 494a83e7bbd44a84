import { jest } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireRootfs } from '@pyti/images';
import { guestTags, prefetchDependencies, sha256OfFile, WheelCache, type GuestTags } from '@pyti/slave';
import { validateDist } from '@pyti/common';
import { buildIndexFixtures, type IndexFixtures } from './index-fixtures.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

jest.setTimeout(300_000);

let fx: IndexFixtures;
let server: IndexServer;
let dir: string;
let rootfs: string;
let tags: GuestTags;
let cache: WheelCache;

beforeAll(async () => {
  fx = buildIndexFixtures();
  server = await startIndexServer({ files: fx.files });
  dir = mkdtempSync(join(tmpdir(), 'pyti-prefetch-'));
  rootfs = requireRootfs().path;
  tags = await guestTags(rootfs);
  cache = new WheelCache(join(dir, 'wheels'));
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const packageGets = (): string[] => server.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/packages/')).map((r) => r.path);

describe('prefetch with the guest pip against the test index', () => {
  it('reads the guest tags', () => {
    expect(tags.python).toMatch(/^3\.\d+$/);
    expect(tags.implementation).toBe('cp');
    expect(tags.abi).toBe(`cp${tags.python.replace('.', '')}`);
    expect(tags.platforms[tags.platforms.length - 1]).toMatch(/^linux_/);
  });

  it('resolves idx-app to idx-leaf plus setuptools and wheel, then a second time downloads nothing', async () => {
    const dist = await validateDist(fx.dists['idx-app']!.sdist);
    const wh1 = join(dir, 'wh1');
    const first = await prefetchDependencies({ dist, wheelhouse: wh1, cache, rootfs, tags, simpleUrl: server.simpleUrl });
    expect(first.error).toBeUndefined();
    expect(first.wheels.map((w) => w.split('-')[0])).toEqual(['idx_leaf', 'setuptools', 'wheel']);
    expect(first.wheels.find((w) => w.startsWith('idx_leaf-'))).toMatch(/^idx_leaf-1\.1-/); // the newest satisfying idx-leaf>=1.0
    expect(first.downloaded).toBe(3);
    expect(readdirSync(wh1).sort()).toEqual(first.wheels);
    // The install plan: exactly the runtime group's wheels with their sha256; the build requirements' wheels are the build environment's.
    const leaf = first.wheels.find((w) => w.startsWith('idx_leaf-'))!;
    const planned = (filename: string): { filename: string; sha256: string } => ({ filename, sha256: sha256OfFile(join(wh1, filename)) });
    expect(first.installPlan).toEqual({
      source: 'prefetch', runtime: [planned(leaf)], test: [], notes: [],
      build: { requires: expect.arrayContaining(['wheel']), wheels: first.wheels.filter((w) => w !== leaf).map(planned) },
    });
    const gets = packageGets().length;
    expect(gets).toBe(3);

    const wh2 = join(dir, 'wh2');
    const second = await prefetchDependencies({ dist, wheelhouse: wh2, cache, rootfs, tags, simpleUrl: server.simpleUrl });
    expect(second.error).toBeUndefined();
    expect(second.wheels).toEqual(first.wheels);
    expect(second.downloaded).toBe(0);
    expect(packageGets().length).toBe(gets); // no file fetched again
    // The wheelhouse holds links to the one cached copy.
    const f = first.wheels[0]!;
    expect(statSync(join(wh2, f)).ino).toBe(statSync(join(wh1, f)).ino);
    expect(readdirSync(join(dir, 'wheels', 'staging'))).toEqual([]);
  });

  it('reports an unresolvable requirement as data, with pip\'s message', async () => {
    const dist = { ...(await validateDist(fx.dists['idx-leaf-1.1']!.wheel)), requiresDist: ['idx-leaf>=99', 'x @ https://evil.example/x.whl', '--index-url=http://evil'] };
    const s = await prefetchDependencies({ dist, wheelhouse: join(dir, 'wh3'), cache, rootfs, tags, simpleUrl: server.simpleUrl });
    expect(s.error).toMatch(/ERROR: .*idx-leaf>=99/);
    expect(s.error).toMatch(/direct references/);
    expect(s.error).toMatch(/does not start with a project name/);
    expect(s.wheels).toEqual([]);
    expect(s.installPlan.runtime).toEqual([]);
    expect(s.installPlan.notes.join('\n')).toMatch(/dependencies not resolved/);
  });
});
