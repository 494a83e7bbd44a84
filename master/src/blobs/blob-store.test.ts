import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BlobStore, BlobTooLargeError } from './blob-store.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('BlobStore', () => {
  let dir: string;
  let store: BlobStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-blobs-'));
    store = new BlobStore(join(dir, 'blobs'), join(dir, 'tmp'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stores under ab/cd/<sha256>, idempotently', async () => {
    const data = Buffer.from('hello blob');
    const h = sha(data);
    expect(await store.put(Readable.from([data]), 100, h)).toEqual({ sha256: h, sizeBytes: data.length, created: true });
    expect(readFileSync(join(dir, 'blobs', h.slice(0, 2), h.slice(2, 4), h))).toEqual(data);
    expect(await store.put(Readable.from([data]), 100, h)).toMatchObject({ created: false });
    expect(store.sizeOf(h)).toBe(data.length);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('refuses a mismatching hash and an oversized blob, leaving nothing', async () => {
    await expect(store.put(Readable.from([Buffer.from('a')]), 100, sha(Buffer.from('b')))).rejects.toMatchObject({ code: 'PYTI_BLOB_MISMATCH' });
    await expect(store.put(Readable.from([Buffer.alloc(50), Buffer.alloc(60)]), 100)).rejects.toBeInstanceOf(BlobTooLargeError);
    await expect(store.put(Readable.from([Buffer.from('a')]), 100, '../../etc/passwd')).rejects.toMatchObject({ code: 'PYTI_BLOB_MISMATCH' });
    expect(readdirSync(join(dir, 'blobs'))).toEqual([]);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });
});
