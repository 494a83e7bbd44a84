// One audit per file across sources: uploading the very bytes an index file's finished audit inspected
// (same file name, same sha256, same backend) returns that audit, through a real master's user API and
// command API (the slave's dist/ copy stored as it is in production). Other bytes, another backend, an
// audit that ended in an infrastructure error, or --force make a new audit.
import { createHash } from 'node:crypto';
import { MasterKit, KIT_SLAVES } from '../testing/master-socket-kit.js';
import { tinyReport, tinyWheel } from '../testing/tiny-dists.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('an upload of an index file already audited', () => {
  let k: MasterKit;
  beforeEach(async () => {
    k = await MasterKit.start({}, { stats: { everyMs: 0 } });
    await k.register('s1');
  });
  afterEach(() => k.close());

  /** Audits `project==version` (file `filename`) by name, the slave sending `dist` as the file it inspected. */
  const auditFromIndex = async (filename: string, dist: Buffer) => {
    const [project, version] = filename.split('-') as [string, string];
    const sub = await k.request('POST', '/api/v1/audits', { body: JSON.stringify({ project, version, filename }), headers: { 'content-type': 'application/json' } });
    expect(sub.status).toBe(202);
    const id = sub.json().id as string;
    const [lease] = await k.lease('s1');
    expect(lease!.jobId).toBe(id);
    const put = await k.request('PUT', `/rpc/v1/blobs/${sha(dist)}`, { token: KIT_SLAVES.s1, body: dist, headers: { 'content-type': 'application/octet-stream' } });
    expect([200, 201]).toContain(put.status);
    const report = tinyReport(project, version, 'clean');
    const artifacts = [{ name: `dist/${filename}`, sha256: sha(dist), sizeBytes: dist.length }];
    expect(await k.rpc('s1', 'jobs.complete', { leaseId: lease!.leaseId, outcome: { kind: 'report', report, artifacts } })).toEqual({ stored: true });
    return id;
  };
  const upload = (filename: string, bytes: Buffer, query = '') =>
    k.request('POST', `/api/v1/audits/upload?filename=${filename}${query}`, { body: bytes, headers: { 'content-type': 'application/octet-stream' } });

  it('returns the index audit (200, reused) for the same bytes; --force, other bytes or another backend audit anew', async () => {
    const w = tinyWheel('shared', '1.0');
    const id = await auditFromIndex(w.filename, w.bytes);
    const again = await upload(w.filename, w.bytes);
    expect(again.status).toBe(200);
    expect(again.json()).toMatchObject({ id, reused: true });

    const elsewhere = await upload(w.filename, w.bytes, '&backend=qemu');
    expect(elsewhere.status).toBe(202);
    expect(elsewhere.json().id).not.toBe(id);

    const forced = await upload(w.filename, w.bytes, '&force=1');
    expect(forced.status).toBe(202);
    expect([id, elsewhere.json().id]).not.toContain(forced.json().id);
  });

  it('does not take an index audit of other bytes under the same name for the upload', async () => {
    const w = tinyWheel('other', '1.0');
    const id = await auditFromIndex(w.filename, Buffer.from('the index served other bytes under this name'));
    const r = await upload(w.filename, w.bytes);
    expect(r.status).toBe(202);
    expect(r.json().id).not.toBe(id);
  });
});

describe('an upload of an index file whose audit ended in an infrastructure error', () => {
  it('is audited anew', async () => {
    const k = await MasterKit.start({ maxInfraRetries: 0 }, { stats: { everyMs: 0 } });
    try {
      await k.register('s1');
      const w = tinyWheel('flaky', '1.0');
      const sub = await k.request('POST', '/api/v1/audits', { body: JSON.stringify({ project: 'flaky', version: '1.0', filename: w.filename }), headers: { 'content-type': 'application/json' } });
      const [lease] = await k.lease('s1');
      expect(lease!.jobId).toBe(sub.json().id);
      await k.request('PUT', `/rpc/v1/blobs/${sha(w.bytes)}`, { token: KIT_SLAVES.s1, body: w.bytes, headers: { 'content-type': 'application/octet-stream' } });
      const artifacts = [{ name: `dist/${w.filename}`, sha256: sha(w.bytes), sizeBytes: w.bytes.length }];
      expect(await k.rpc('s1', 'jobs.complete', { leaseId: lease!.leaseId, outcome: { kind: 'report', report: tinyReport('flaky', '1.0', 'error'), artifacts } })).toEqual({ stored: true });
      expect((await k.request('GET', `/api/v1/audits/${sub.json().id}`)).json()).toMatchObject({ state: 'done', result: 'error:sandbox' });
      const r = await k.request('POST', `/api/v1/audits/upload?filename=${w.filename}`, { body: w.bytes, headers: { 'content-type': 'application/octet-stream' } });
      expect(r.status).toBe(202);
      expect(r.json().id).not.toBe(sub.json().id);
    } finally {
      await k.close();
    }
  });
});

describe('a submission by name of a release whose sdist was audited', () => {
  let k: MasterKit;
  beforeEach(async () => { k = await MasterKit.start({}, { stats: { everyMs: 0 } }); });
  afterEach(() => k.close());
  const byName = (body: Record<string, unknown>) => k.request('POST', '/api/v1/audits', { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  it('returns the sdist\'s audit (the file the slave would pick); not a wheel\'s, another version\'s or another backend\'s', async () => {
    const sdist = await byName({ project: 'Some_Pkg', version: '1.1', filename: 'some_pkg-1.1.tar.gz' });
    expect(sdist.status).toBe(202);
    await byName({ project: 'wheelonly', version: '2.0', filename: 'wheelonly-2.0-py3-none-any.whl' });

    const same = await byName({ project: 'some-pkg', version: '1.1' });
    expect(same.status).toBe(200);
    expect(same.json()).toMatchObject({ id: sdist.json().id, reused: true });

    for (const other of [{ project: 'some-pkg', version: '1.10' }, { project: 'some-pkg', version: '1.1', backend: 'qemu' }, { project: 'wheelonly', version: '2.0' }]) {
      const r = await byName(other);
      expect([other, r.status]).toEqual([other, 202]);
    }
    const forced = await byName({ project: 'some-pkg', version: '1.1', force: true });
    expect(forced.status).toBe(202);
    expect(forced.json().id).not.toBe(sdist.json().id);
  });
});
