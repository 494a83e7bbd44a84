/**
 * The day-of-PyPI replay tool (bench/pypi-day-replay.mjs) at CI size, so that it cannot rot: 200
 * files of the day-shaped stream with extra yanks and removals (`--churn`), 20 simulated slaves, audit
 * times scaled down, against a real test index and a real `pyti master` process on SQLite. The tool
 * must exit 0 and its figures must be there; and the accounting is checked here again from the raw
 * lists it wrote (every file it published, every audit the master's API listed), not from its verdict:
 * each sdist and pure wheel audited exactly once and done, a yanked or removed one at most once, no
 * platform wheel and no unknown file audited.
 */
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
jest.setTimeout(4 * 60_000);

interface Published { filename: string; kind: 'sdist' | 'wheel'; tag: string | null; disturbed: boolean; publishedAt: number }
interface Audit { filename: string | null; state: string; submittedAt: string; finishedAt: string | null }

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'pyti-replay-test-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'bench/pypi-day-replay.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('close', (code) => resolve({ code, out }));
  });
}

test('200 files, 20 simulated slaves: every audited file exactly once, the figures printed', async () => {
  const json = join(dir, 'figures.json');
  const { code, out } = await run(['--files', '200', '--slaves', '20', '--speedup', '2000', '--audit-scale', '0.02', '--churn', '20',
    '--poll-ms', '500', '--rss-poll-ms', '300', '--drain-timeout', '120s', '--json', json]);
  expect([code, out.slice(-3000)]).toEqual([0, expect.stringContaining('exactly once')]);
  expect(out).toMatch(/ingest lag p50 \/ p95 \/ max +\d+\.\d s \/ \d+\.\d s/);
  expect(out).toMatch(/upload→verdict p50 \/ p95 +\d+\.\d s \/ \d+\.\d s/);
  expect(out).toMatch(/leases\/s mean/);
  expect(out).toMatch(/queue over time \[sqlite\]/);

  const figures = JSON.parse(readFileSync(json, 'utf8')) as { runs: { label: string; files: number; published: Published[]; audits: Audit[]; queue: { series: unknown[] }; leases: { total: number } }[] };
  expect(figures.runs).toHaveLength(1);
  const [r] = figures.runs;
  expect(r!.label).toBe('sqlite');
  expect(r!.files).toBe(200);
  const published = r!.published;
  expect(published).toHaveLength(200);
  // The stream has PyPI's mix: sdists, pure wheels, platform wheels, and yanked or removed files.
  const audited = (f: Published) => (f.kind === 'sdist' ? f.filename.endsWith('.tar.gz') : f.tag === 'py3-none-any');
  expect(published.filter((f) => f.kind === 'sdist').length).toBeGreaterThan(20);
  expect(published.filter((f) => f.kind === 'wheel' && !audited(f)).length).toBeGreaterThan(20);
  expect(published.filter((f) => f.disturbed).length).toBeGreaterThan(0);

  const byFile = new Map<string, Audit[]>();
  for (const a of r!.audits) byFile.set(a.filename ?? '', [...(byFile.get(a.filename ?? '') ?? []), a]);
  const names = new Set(published.map((f) => f.filename));
  expect([...byFile.keys()].filter((k) => !names.has(k))).toEqual([]); // no audit of an unknown file
  for (const f of published) {
    const got = (byFile.get(f.filename) ?? []).map((a) => a.state);
    if (!audited(f)) expect([f.filename, got]).toEqual([f.filename, []]);
    else if (f.disturbed) expect([f.filename, got.length <= 1 && got.every((s) => s === 'done' || s === 'cancelled')]).toEqual([f.filename, true]);
    else expect([f.filename, got]).toEqual([f.filename, ['done']]);
  }
  // Every done audit came after its upload, and the queue was sampled while it ran.
  for (const a of r!.audits.filter((x) => x.state === 'done')) {
    const f = published.find((p) => p.filename === a.filename)!;
    expect(Date.parse(a.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(a.submittedAt));
    expect(Date.parse(a.submittedAt)).toBeGreaterThanOrEqual(f.publishedAt - 1000);
  }
  expect(r!.queue.series.length).toBeGreaterThan(1);
  expect(r!.leases.total).toBeGreaterThanOrEqual(r!.audits.filter((x) => x.state === 'done').length);
});
