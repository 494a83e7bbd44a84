// Retention gc on a real master's data directory: audits of different ages stored through the
// command API as a slave stores them (blobs PUT, jobs.complete with artifacts), a queued and a
// running job, an orphan blob and a dead write's temp file; `pyti master gc --dry-run` lists exactly
// what the real run deletes, while the master runs; what jobs need survives; the audit page and the
// raw-data routes say what was pruned.
import { jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMasterCommand } from '../server/master-command.js';
import { ManualClock } from '../queue/clock.js';
import { MasterKit, KIT_SLAVES, KIT_USER } from '../testing/master-socket-kit.js';
import { CHROMIUM, HeadlessChromium } from '../testing/headless-chromium.js';
import { tinyReport, tinyWheel } from '../testing/tiny-dists.js';
import { BlobStore } from '../blobs/blob-store.js';
import { planGc } from './gc-plan.js';
import type { InventoryBlob } from './blob-inventory.js';

jest.setTimeout(60_000);

const DAY = 86_400_000;
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function gcCli(dataDir: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runMasterCommand(['gc', '--data', dataDir, ...args], { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe('pyti master gc on a running master', () => {
  let k: MasterKit;
  let clock: ManualClock;
  let blobs: BlobStore;
  const now = Date.now();

  beforeEach(async () => {
    clock = new ManualClock(now - 100 * DAY);
    k = await MasterKit.start({ retentionMaxAge: '30d' }, { clock, stats: { everyMs: 0 } });
    blobs = new BlobStore(join(k.dataDir, 'blobs'), join(k.dataDir, 'tmp'));
    await k.register('s1');
  });
  afterEach(() => k.close());

  const upload = async (name: string, version = '1.0', force = false) => {
    const w = tinyWheel(name, version);
    const r = await k.request('POST', `/api/v1/audits/upload?filename=${w.filename}${force ? '&force=1' : ''}`, { body: w.bytes, headers: { 'content-type': 'application/octet-stream' } });
    expect(r.status).toBe(202);
    return { id: r.json().id as string, sha256: sha(w.bytes) };
  };
  const putBlob = async (data: string) => {
    const r = await k.request('PUT', `/rpc/v1/blobs/${sha(data)}`, { token: KIT_SLAVES.s1, body: Buffer.from(data), headers: { 'content-type': 'application/octet-stream' } });
    expect([200, 201]).toContain(r.status);
    return { sha256: sha(data), sizeBytes: Buffer.byteLength(data) };
  };
  /** Uploads a wheel, leases it, stores a report with raw data `raw` (name → content) and a dist/ copy. */
  const audit = async (name: string, raw: Record<string, string>, verdict: 'clean' | 'malicious' = 'clean') => {
    const up = await upload(name);
    const [lease] = await k.lease('s1');
    expect(lease!.jobId).toBe(up.id);
    const artifacts = [];
    for (const [file, content] of Object.entries(raw)) artifacts.push({ name: `raw/${file}`, ...(await putBlob(content)) });
    artifacts.push({ name: `dist/${name}-1.0-py3-none-any.whl`, ...(await putBlob(`dist of ${name}`)) });
    expect(await k.rpc('s1', 'jobs.complete', { leaseId: lease!.leaseId, outcome: { kind: 'report', report: tinyReport(name, '1.0', verdict), artifacts } })).toEqual({ stored: true });
    return { ...up, artifacts };
  };
  /** Every blob file was last written long ago: only what the database says keeps it. */
  const ageAllBlobs = () => {
    const old = new Date(now - 200 * DAY);
    for (const b of blobs.list()) utimesSync(blobs.pathOf(b.sha256), old, old);
  };

  it('dry-run lists exactly what the real run deletes; referenced blobs survive; pages say what was pruned', async () => {
    const shared = 'execve("/usr/bin/python3") shared by two audits\n';
    const old = await audit('oldpkg', { 'install/install.strace': 'old trace 1\nold trace 2\n', 'build/build.log': 'old build log\n', 'test/shared.strace': shared });
    const evil = await audit('evilpkg', { 'install/install.strace': 'open("/root/.ssh/authorized_keys", O_WRONLY)\n' }, 'malicious');
    clock.advance(90 * DAY); // 10 days ago
    const mid = await audit('midpkg', { 'install/install.strace': 'mid trace\n', 'test/shared.strace': shared });
    clock.advance(10 * DAY); // now
    const running = await upload('runpkg');
    const [runLease] = await k.lease('s1');
    expect(runLease!.jobId).toBe(running.id);
    const queued = await upload('queuedpkg');
    const orphan = await putBlob('a result whose jobs.complete never came');
    ageAllBlobs();
    // A dead process's temp write (BlobStore.tempPath layout), old.
    const deadPid = spawnSync('true').pid!;
    const deadTemp = join(k.dataDir, 'tmp', `t-${deadPid}-0123456789abcdef`);
    mkdirSync(deadTemp, { recursive: true });
    writeFileSync(join(deadTemp, 'blob'), 'half an upload');
    utimesSync(join(deadTemp, 'blob'), new Date(now - 2 * DAY), new Date(now - 2 * DAY));
    utimesSync(deadTemp, new Date(now - 2 * DAY), new Date(now - 2 * DAY));

    const dry = await gcCli(k.dataDir, '--dry-run', '--json', '--retention-max-age', '30d');
    expect(dry.code).toBe(0);
    const planned = JSON.parse(dry.out);
    const oldOnly = old.artifacts.filter((a) => !a.name.includes('shared'));
    const expected = [
      ...oldOnly.map((a) => ({ name: a.sha256, kind: a.name.startsWith('dist/') ? 'archive' : 'raw', reason: 'age' })),
      { name: old.sha256, kind: 'archive', reason: 'age' },
      { name: orphan.sha256, kind: 'orphan', reason: 'unreferenced' },
      { name: `t-${deadPid}-0123456789abcdef`, kind: 'temp', reason: 'unreferenced' },
    ].sort((a, b) => a.name.localeCompare(b.name));
    expect(planned.items.map((i: any) => ({ name: i.name, kind: i.kind, reason: i.reason })).sort((a: any, b: any) => a.name.localeCompare(b.name))).toEqual(expected);
    expect(planned.byKind).toEqual({
      archive: { count: 2, bytes: expect.any(Number) }, raw: { count: 2, bytes: expect.any(Number) },
      orphan: { count: 1, bytes: orphan.sizeBytes }, temp: { count: 1, bytes: 14 },
    });
    expect(planned.after.protectedByJobs).toBe(2); // the running and the queued job's uploads
    expect(planned.after.flagged).toBe(3); // the malicious audit's upload, trace and dist copy: its evidence
    // A dry run deletes nothing.
    for (const i of planned.items.filter((x: any) => x.kind !== 'temp')) expect(blobs.has(i.name)).toBe(true);

    // The human-readable dry run says the same in counts and bytes by kind.
    const human = await gcCli(k.dataDir, '--dry-run', '--retention-max-age', '30d');
    expect(human.out).toContain('policy: max age 30d, no size limit, grace 1h, no periodic gc, flagged audits kept\n');
    expect(human.out).toMatch(/would delete 6 \(.*\), leaving/);
    expect(human.out).toMatch(new RegExp(`^ +archive +2 +${planned.byKind.archive.bytes} B$`, 'm'));
    expect(human.out).toMatch(/^ +temp +1 +14 B$/m);
    expect(human.out).toMatch(/^blobs: 14 \(.*\); 2 needed by queued or running jobs, 3 kept as evidence of flagged audits, 0 within the grace period$/m);

    const real = await gcCli(k.dataDir, '--json', '--retention-max-age', '30d');
    expect(real.code).toBe(0);
    const done = JSON.parse(real.out);
    expect(done.deleted.map((i: any) => i.name).sort()).toEqual(planned.items.map((i: any) => i.name).sort());
    expect(done.skipped).toEqual([]);
    for (const e of expected.filter((x) => x.kind !== 'temp')) expect(blobs.has(e.name)).toBe(false);
    expect(existsSync(deadTemp)).toBe(false);
    // Survivors: the queued and running jobs' uploads, the middle audit's data, the blob it shares with the old one.
    for (const s of [queued.sha256, running.sha256, mid.sha256, ...mid.artifacts.map((a) => a.sha256)]) expect(blobs.has(s)).toBe(true);
    // A second run finds nothing more; only if told to prune flagged audits too would it take the malicious one's evidence.
    expect(JSON.parse((await gcCli(k.dataDir, '--dry-run', '--json', '--retention-max-age', '30d')).out).items).toEqual([]);
    const evidence = JSON.parse((await gcCli(k.dataDir, '--dry-run', '--json', '--retention-max-age', '30d', '--retention-prune-flagged')).out).items;
    expect(evidence.map((i: any) => i.name).sort()).toEqual([evil.sha256, ...evil.artifacts.map((a) => a.sha256)].sort());

    // The queued job is leased and its slave fetches its distribution.
    const [next] = await k.lease('s1');
    expect(next!.jobId).toBe(queued.id);
    const fetched = await k.request('GET', `/rpc/v1/blobs/${queued.sha256}`, { token: KIT_SLAVES.s1 });
    expect(fetched.status).toBe(200);
    expect(sha(Buffer.from(await (await fetch(new URL(`/rpc/v1/blobs/${queued.sha256}`, k.url), { headers: { authorization: `Bearer ${KIT_SLAVES.s1}` } })).arrayBuffer()))).toBe(queued.sha256);

    // The old audit: its record and report stay, its pruned files are marked, its page renders and says so.
    const detail = (await k.request('GET', `/api/v1/audits/${old.id}`)).json();
    expect(detail.verdict).toBe('clean');
    const marks = Object.fromEntries(detail.artifacts.map((a: any) => [a.name, a.pruned ?? null]));
    expect(marks['raw/test/shared.strace']).toBeNull();
    expect(marks['raw/install/install.strace']).toEqual({ at: expect.stringMatching(/^\d{4}-/), reason: 'age' });
    expect((await k.request('GET', `/api/v1/audits/${old.id}/report.json`)).status).toBe(200);
    const page = await k.request('GET', `/audits/${old.id}`);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<p class="muted" id="raw-pruned">3 of its 4 raw files were pruned on \d{4}-[^<]* by the retention policy \(3 files, [^)]*\)/);
    expect(page.body).toContain('<code>raw/install/install.strace</code> <span class="muted">(pruned)</span>');
    expect(page.body).toContain(`<a href="/api/v1/audits/${old.id}/artifacts/raw/test/shared.strace">raw/test/shared.strace</a>`);
    // Its raw data answers 410 with a stable code, by the API, the raw line page and the trace viewer.
    for (const path of [`/api/v1/audits/${old.id}/artifacts/raw/install/install.strace`, `/api/v1/audits/${old.id}/raw/build/build.log`,
      `/audits/${old.id}/raw/install/install.strace?line=1`, `/api/v1/audits/${old.id}/trace?phase=install`]) {
      const r = await k.request('GET', path);
      expect([path, r.status, r.json().error.code]).toEqual([path, 410, 'PYTI_RAW_PRUNED']);
    }
    expect((await k.request('GET', `/api/v1/audits/${old.id}/artifacts/raw/test/shared.strace`)).body).toBe(shared);
    expect((await k.request('GET', `/api/v1/audits/${mid.id}/artifacts/raw/install/install.strace`)).body).toBe('mid trace\n');
    expect((await k.request('GET', `/audits/${mid.id}`)).body).not.toContain('raw-pruned');

    // In a real browser: the page renders, with its report frame and the note, and nothing is blocked.
    if (!CHROMIUM) return;
    const browser = await HeadlessChromium.open(CHROMIUM);
    try {
      await browser.goto(`${k.url.replace(/\/$/, '')}/audits/${old.id}?token=${KIT_USER}`, 1500);
      expect(await browser.evaluate('document.getElementById("raw-pruned").innerText')).toMatch(/^3 of its 4 raw files were pruned on .* The report and its verdict stay\.$/);
      expect(await browser.evaluate('document.getElementById("report").contentDocument.body.innerText.length > 0')).toBe(true);
      expect(browser.log.filter((l) => /Content Security Policy/i.test(l))).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('skips a blob that an upload re-used after the plan was made (no queued job loses its file)', async () => {
    const first = await audit('dup', { 'install/install.strace': 'x\n' });
    clock.advance(100 * DAY);
    ageAllBlobs();
    const plan = await k.m.gc.plan();
    expect(plan.items.map((i) => i.name)).toContain(first.sha256);
    // The same file is uploaded again, forced (a new queued job names the blob), before the plan runs.
    const again = await upload('dup', '1.0', true);
    expect(again.sha256).toBe(first.sha256);
    const result = await k.m.gc.run(plan);
    expect(result.skipped.map((s) => [s.item.name, s.why])).toEqual([[first.sha256, `job ${again.id} needs it`]]);
    expect(blobs.has(first.sha256)).toBe(true);
    const [lease] = await k.lease('s1');
    expect(lease!.jobId).toBe(again.id);
    expect((await k.request('GET', `/rpc/v1/blobs/${first.sha256}`, { token: KIT_SLAVES.s1 })).status).toBe(200);
  });

  it('without a policy deletes only garbage, with progress and a summary by kind', async () => {
    await audit('keep', { 'install/install.strace': 'kept\n' });
    const orphan = await putBlob('never completed');
    ageAllBlobs();
    const r = await gcCli(k.dataDir, '--list');
    expect(r.code).toBe(0);
    expect(r.out).toContain('policy: no age limit, no size limit, grace 1h, no periodic gc, flagged audits kept\n');
    expect(r.out).toMatch(new RegExp(`^deleted orphan +${orphan.sha256} +15 B last used \\S+ \\(unreferenced\\)$`, 'm'));
    expect(r.out).toMatch(/^deleted 1 \(15 B\):\n +archive +0 +0 B\n +raw +0 +0 B\n +orphan +1 +15 B\n +temp +0 +0 B\n$/m);
    expect(r.err).toBe('gc: 1/1 checked, 15 B deleted\n');
    expect(blobs.has(orphan.sha256)).toBe(false);
    expect([...blobs.list()].length).toBe(3); // the audit's upload, raw trace and dist copy
  });

  it('refuses a bad policy with PYTI_CONFIG_INVALID and exit 64', async () => {
    const bad = await gcCli(k.dataDir, '--dry-run', '--retention-max-age', '30');
    expect(bad.code).toBe(64);
    expect(bad.err).toContain('PYTI_CONFIG_INVALID: --retention-max-age: "30" is not a duration');
    const small = await gcCli(k.dataDir, '--dry-run', '--retention-max-bytes', '10K');
    expect(small.err).toContain('--retention-max-bytes: 10.0 KiB is below 1 MiB');
    const nowhere = await gcCli(join(k.dir, 'no-such-master'), '--dry-run');
    expect([nowhere.code, nowhere.err]).toEqual([64, `pyti: error PYTI_CONFIG_INVALID: --data: ${join(k.dir, 'no-such-master')} holds no master database (master.db)\n`]);
    expect(existsSync(join(k.dir, 'no-such-master'))).toBe(false);
  });
});

describe('planGc by size', () => {
  const MiB = 1024 * 1024;
  const blob = (name: string, mib: number, lastUseDaysAgo: number, extra: Partial<InventoryBlob> = {}): InventoryBlob => {
    const t = 1_800_000_000_000 - lastUseDaysAgo * DAY;
    return { sha256: name.padEnd(64, '0'), sizeBytes: mib * MiB, mtimeMs: t, lastUseMs: t, lastRefMs: t, kind: 'raw', protectedBy: null, flaggedBy: null, ...extra };
  };
  it('deletes the least recently used deletable blobs until the total fits, never protected, flagged or fresh ones', () => {
    const blobs = [
      blob('a', 4, 50, { protectedBy: 'job-q' }), // oldest but a queued job needs it
      blob('f', 1, 45, { flaggedBy: 'job-m' }), // the evidence of a malicious verdict
      blob('b', 3, 40), blob('c', 3, 30, { kind: 'archive' }), blob('d', 3, 20), blob('e', 3, 0), // e: within the grace period
    ];
    const policy = { maxAgeMs: null, maxTotalBytes: 10 * MiB, graceMs: 3_600_000, gcIntervalMs: 0, pruneFlagged: false };
    const plan = planGc(policy, blobs, [], 1_800_000_000_000);
    expect(plan.items.map((i) => [i.name[0], i.kind, i.reason])).toEqual([['b', 'raw', 'size'], ['c', 'archive', 'size'], ['d', 'raw', 'size']]);
    expect(plan.after).toEqual({ count: 3, bytes: 8 * MiB, protectedByJobs: 1, flagged: 1, inGrace: 1 });
    // With --retention-prune-flagged the evidence goes first (it is the oldest deletable).
    const all = planGc({ ...policy, pruneFlagged: true }, blobs, [], 1_800_000_000_000);
    expect(all.items.map((i) => i.name[0])).toEqual(['f', 'b', 'c']);
  });
});
