import { jest } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { IndexClient, type IndexFile } from '@pyti/common';
import { buildIndexFixtures, type IndexFixtures } from './index-fixtures.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

jest.setTimeout(120_000);

let fx: IndexFixtures;
let server: IndexServer;
let dir: string;
let appSdist: string;
let leafWheel: string;

beforeAll(async () => {
  fx = buildIndexFixtures();
  appSdist = basename(fx.dists['idx-app']!.sdist);
  leafWheel = basename(fx.dists['idx-leaf-1.0']!.wheel);
  server = await startIndexServer({ files: fx.files, corrupt: [appSdist], missing: [leafWheel] });
  dir = mkdtempSync(join(tmpdir(), 'pyti-index-client-'));
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const code = (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: { code?: string }) => e.code ?? String(e));

describe('index client against the test index', () => {
  it('resolves project==version to its sdist by default, and to a named file', async () => {
    const c = new IndexClient({ indexUrl: server.url });
    const sdist = await c.resolve('idx-leaf', '1.1');
    expect(sdist.filename).toBe(basename(fx.dists['idx-leaf-1.1']!.sdist));
    expect(sdist.sha256).toBe(createHash('sha256').update(readFileSync(fx.dists['idx-leaf-1.1']!.sdist)).digest('hex'));
    expect(sdist.url.startsWith(`${server.url}/packages/`)).toBe(true);
    const wheel = await c.resolve('IDX_Leaf', '1.1', basename(fx.dists['idx-leaf-1.1']!.wheel));
    expect(wheel.filename.endsWith('-py3-none-any.whl')).toBe(true);
  });

  it('downloads with the sha256 verified, into the path the caller chose', async () => {
    const c = new IndexClient({ indexUrl: `${server.url}/` });
    const f = await c.resolve('idx-leaf', '1.1');
    const dest = join(dir, 'leaf.tar.gz');
    const { sizeBytes } = await c.download(f, dest);
    expect(sizeBytes).toBe(readFileSync(fx.dists['idx-leaf-1.1']!.sdist).length);
    expect(readFileSync(dest).equals(readFileSync(fx.dists['idx-leaf-1.1']!.sdist))).toBe(true);
  });

  it('refuses a file whose bytes do not match the published sha256, leaving nothing behind', async () => {
    const c = new IndexClient({ indexUrl: server.url });
    const f = await c.resolve('idx-app', '1.0');
    expect(f.filename).toBe(appSdist);
    const dest = join(dir, 'app.tar.gz');
    await expect(code(c.download(f, dest))).resolves.toBe('PYTI_INDEX_HASH_MISMATCH');
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes('.part-'))).toEqual([]);
  });

  it('says PYTI_INDEX_NOT_FOUND for an unknown project, version or file, and a missing download', async () => {
    const c = new IndexClient({ indexUrl: server.url });
    await expect(code(c.resolve('no-such-project', '1.0'))).resolves.toBe('PYTI_INDEX_NOT_FOUND');
    await expect(code(c.resolve('idx-leaf', '9.9'))).resolves.toBe('PYTI_INDEX_NOT_FOUND');
    await expect(code(c.resolve('idx-leaf', '1.1', 'idx_leaf-1.1-cp311-cp311-linux_x86_64.whl'))).resolves.toBe('PYTI_INDEX_NOT_FOUND');
    await expect(code(c.resolve('../etc', '1.0'))).resolves.toBe('PYTI_INDEX_NOT_FOUND');
    await expect(code(c.resolve('idx-leaf', '1.0/../../x'))).resolves.toBe('PYTI_INDEX_NOT_FOUND');
    const missing = await c.resolve('idx-leaf', '1.0', leafWheel);
    await expect(code(c.download(missing, join(dir, 'missing.whl')))).resolves.toBe('PYTI_INDEX_NOT_FOUND');
  });

  it('says PYTI_INDEX_UNREACHABLE when nothing listens', async () => {
    const c = new IndexClient({ indexUrl: 'http://127.0.0.1:9', timeoutMs: 2000 });
    await expect(code(c.resolve('idx-leaf', '1.1'))).resolves.toBe('PYTI_INDEX_UNREACHABLE');
  });

  it('refuses a download larger than the published size', async () => {
    const c = new IndexClient({ indexUrl: server.url });
    const f: IndexFile = { ...(await c.resolve('idx-leaf', '1.1')) };
    f.size = 10;
    await expect(code(c.download(f, join(dir, 'short.tar.gz')))).resolves.toBe('PYTI_INDEX_HASH_MISMATCH');
  });
});
