// `pyti report ID --out DIR` on an audit whose raw data the retention gc pruned: a real master (its
// command API storing a report with raw data as a slave does), a real `pyti master gc`, then the real
// `pyti report` command against the running master. The report and what is still stored are saved;
// the pruned files are named on stderr, not fetched (the master answers 410 for them).
import { jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMasterCommand } from '../server/master-command.js';
import { ManualClock } from '../queue/clock.js';
import { MasterKit, KIT_SLAVES, KIT_USER } from '../testing/master-socket-kit.js';
import { tinyReport, tinyWheel } from '../testing/tiny-dists.js';
import { BlobStore } from '../blobs/blob-store.js';
import { main } from '../cli/main.js';
import { cliIO } from '../testing/cli-test-kit.js';

jest.setTimeout(60_000);

const DAY = 86_400_000;
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

test('pyti report --out saves the report and the raw data still stored, and names what the gc pruned', async () => {
  const now = Date.now();
  const clock = new ManualClock(now - 100 * DAY);
  const k = await MasterKit.start({ retentionMaxAge: '30d' }, { clock, stats: { everyMs: 0 } });
  const out = mkdtempSync(join(tmpdir(), 'pyti-report-pruned-'));
  try {
    await k.register('s1');
    const putBlob = async (data: string) => {
      const r = await k.request('PUT', `/rpc/v1/blobs/${sha(data)}`, { token: KIT_SLAVES.s1, body: Buffer.from(data), headers: { 'content-type': 'application/octet-stream' } });
      expect([200, 201]).toContain(r.status);
      return { sha256: sha(data), sizeBytes: Buffer.byteLength(data) };
    };
    const w = tinyWheel('oldpkg', '1.0');
    const up = await k.request('POST', `/api/v1/audits/upload?filename=${w.filename}`, { body: w.bytes, headers: { 'content-type': 'application/octet-stream' } });
    expect(up.status).toBe(202);
    const id = up.json().id as string;
    const [lease] = await k.lease('s1');
    expect(lease!.jobId).toBe(id);
    const artifacts = [
      { name: 'raw/install/install.strace', ...(await putBlob('an old trace\n')) },
      { name: 'dist/oldpkg-1.0-py3-none-any.whl', ...(await putBlob('dist of oldpkg')) },
    ];
    expect(await k.rpc('s1', 'jobs.complete', { leaseId: lease!.leaseId, outcome: { kind: 'report', report: tinyReport('oldpkg', '1.0', 'clean'), artifacts } })).toEqual({ stored: true });
    // Everything was written long ago: the 30-day policy lets the raw data go.
    const blobs = new BlobStore(join(k.dataDir, 'blobs'), join(k.dataDir, 'tmp'));
    const old = new Date(now - 200 * DAY);
    for (const b of blobs.list()) utimesSync(blobs.pathOf(b.sha256), old, old);
    clock.advance(100 * DAY);
    const gc = await runMasterCommand(['gc', '--data', k.dataDir, '--retention-max-age', '30d'], { out: () => undefined, err: () => undefined });
    expect(gc).toBe(0);
    expect(blobs.has(artifacts[0]!.sha256)).toBe(false);

    const io = cliIO();
    const code = await main(['report', id, '--out', out, '--master', k.url, '--token', KIT_USER], io);
    expect(io.stderr).not.toContain('PYTI_RAW_PRUNED');
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).distribution.name).toBe('oldpkg');
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    expect(existsSync(join(out, 'raw/install/install.strace'))).toBe(false);
    expect(io.stderr).toMatch(/not saved: 2 raw file\(s\) the master's retention policy pruned \(.*raw\/install\/install\.strace/);
  } finally {
    await k.close();
    rmSync(out, { recursive: true, force: true });
  }
});
