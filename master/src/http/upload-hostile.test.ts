// The master's upload and submit routes against hostile archives and versions, on a real master
// listening on 127.0.0.1:0: bounded validation (a 1 MB bomb is refused in well under a second),
// archives the guest would read differently, and versions that are not PEP 440.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TAR_END, paxBlock, tarBlock, tarFile } from '@pyti/common';
import { loadMasterConfig } from '../config.js';
import { zipOf } from '../testing/zip-kit.js';
import { buildMasterApp, type MasterApp } from './master-app.js';

const USER = 'user-token-0123456789';
const pkgInfo = (version: string): string => `Metadata-Version: 2.1\nName: hostile\nVersion: ${version}\n\n`;

describe('upload and submit routes refuse hostile input', () => {
  let dir: string;
  let m: MasterApp;
  let url: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-upload-hostile-'));
    const config = loadMasterConfig({ data: dir, port: 0, maxWaitMs: 1000 }, { PYTI_USER_TOKEN: USER });
    m = await buildMasterApp(config, { sweepIntervalMs: 0 });
    url = await m.listen();
  });
  afterAll(async () => {
    await m.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (path: string, body: Buffer | string, type = 'application/octet-stream'): Promise<{ status: number; error?: { code: string; message: string } }> => {
    const res = await fetch(new URL(path, url), { method: 'POST', headers: { authorization: `Bearer ${USER}`, 'content-type': type }, body });
    const json = (await res.json()) as { error?: { code: string; message: string } };
    return { status: res.status, error: json.error };
  };
  const upload = (filename: string, bytes: Buffer) => call(`/api/v1/audits/upload?filename=${encodeURIComponent(filename)}`, bytes);
  const audits = async (): Promise<unknown[]> => {
    const res = await fetch(new URL('/api/v1/audits', url), { headers: { authorization: `Bearer ${USER}` } });
    return ((await res.json()) as { audits: unknown[] }).audits;
  };

  it('a 1 MB gzip bomb (1 GiB of zeros in a member) is refused in well under a second, and nothing is kept', async () => {
    const zeros = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const head = gzipSync(Buffer.concat([tarFile('hostile-1.0/PKG-INFO', pkgInfo('1.0')), tarBlock({ name: 'hostile-1.0/zeros', size: 150 * 1024 * 1024 })]));
    const bomb = Buffer.concat([head, ...Array.from({ length: 16 }, () => zeros)]);
    expect(bomb.length).toBeLessThan(1.1 * 1024 * 1024);
    const started = Date.now();
    const r = await upload('hostile-1.0.tar.gz', bomb);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(r).toMatchObject({ status: 400, error: { code: 'PYTI_INPUT_TOO_LARGE', message: expect.stringMatching(/^hostile-1\.0\.tar\.gz: .*compression bomb/) } });
    // 1 GiB of zeros after the end-of-archive marker costs nothing either: the archive is accepted.
    const trailing = Buffer.concat([gzipSync(Buffer.concat([tarFile('hostile-1.0/PKG-INFO', pkgInfo('1.0')), TAR_END])), ...Array.from({ length: 16 }, () => zeros)]);
    const t2 = Date.now();
    expect((await upload('hostile-1.0.tar.gz', trailing)).status).toBe(202);
    expect(Date.now() - t2).toBeLessThan(1500);
    expect(await audits()).toHaveLength(1);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('a PAX path climbing out behind a harmless ustar name is refused on upload', async () => {
    const tgz = gzipSync(Buffer.concat([tarFile('hostile-2.0/PKG-INFO', pkgInfo('2.0')), paxBlock({ path: '../../../tmp/x' }), tarFile('hostile-2.0/ok.txt', 'x'), TAR_END]));
    expect(await upload('hostile-2.0.tar.gz', tgz)).toMatchObject({ status: 400, error: { code: 'PYTI_INPUT_UNSAFE_PATH', message: expect.stringContaining('../../../tmp/x') } });
  });

  it('a version that is not PEP 440 (1..0) is refused on upload, in a zip submission and by name; nothing is queued', async () => {
    const before = (await audits()).length;
    const tgz = gzipSync(Buffer.concat([tarFile('hostile-1..0/PKG-INFO', pkgInfo('1..0')), TAR_END]));
    expect(await upload('hostile-1..0.tar.gz', tgz)).toMatchObject({ status: 400, error: { code: 'PYTI_INPUT_BAD_VERSION', message: expect.stringContaining('"1..0" is not a valid PEP 440 version') } });
    const zip = zipOf([{ name: 'hostile-1..0.tar.gz', data: tgz }]);
    expect(await call('/api/v1/submissions/zip?filename=bundle.zip', zip, 'application/zip')).toMatchObject({ status: 400, error: { code: 'PYTI_INPUT_BAD_VERSION' } });
    expect(await call('/api/v1/audits', JSON.stringify({ project: 'hostile', version: '1..0' }), 'application/json')).toMatchObject({ status: 400, error: { code: 'PYTI_INPUT_BAD_VERSION' } });
    expect(await audits()).toHaveLength(before);
    expect((await call('/api/v1/audits', JSON.stringify({ project: 'hostile', version: '1.0.post1' }), 'application/json')).status).toBe(202);
  });
});
