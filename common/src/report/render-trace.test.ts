/**
 * The report's trace sections and evidence links on a real trace: ssh-writer's isolated build in
 * bubblewrap (pip fills a build env with ~3 200 files; setup.py writes ~/.ssh/authorized_keys),
 * analysed as a fresh audit is (analyzeTraces: summaries with owners, and the real findings).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { AuditReport } from './audit-report.js';
import { applyJudgement } from './apply-judgement.js';
import { renderHtml } from './render-html.js';
import { analyzeTraces } from './trace-findings.js';

const BUILD = gunzipSync(readFileSync(new URL('../trace/fixtures/ssh-writer-isolated-build.strace.gz', import.meta.url)));
const PATHS = { home: '/home/alex', work: '/work', tmp: '/tmp' };

function report(): AuditReport {
  const a = analyzeTraces((task, name) => (task === 'build' && name === 'build.strace' ? BUILD : undefined), PATHS);
  return applyJudgement({
    schemaVersion: 1, tool: { name: 'pyti', version: '0.1.0' },
    distribution: { filename: 'ssh-writer-1.0.tar.gz', name: 'ssh-writer', version: '1.0', kind: 'sdist', sha256: 'a'.repeat(64), sizeBytes: 1, requiresDist: [] },
    backend: { name: 'bwrap', isolation: 'namespaces', network: 'none' }, result: 'pass', verdict: 'clean', score: 0, scoreReasons: [],
    tasks: [], traces: a.traces, findings: a.findings, timings: { startedAt: '2026-12-07T00:00:00.000Z', totalMs: 1 }, rawFiles: ['raw/build/build.strace'],
  });
}

describe('the report\'s trace sections on a real isolated build', () => {
  const r = report();
  const build = r.traces.build!;

  it('the summary keeps every path of the package and counts the tooling\'s apart', () => {
    expect(build.counts.filesByOwner!.tooling).toBeGreaterThan(3000);
    expect(build.counts.filesByOwner!.package).toBeGreaterThanOrEqual(30);
    const pkg = build.files.filter((f) => f.owner === 'package');
    expect(pkg).toHaveLength(build.counts.filesByOwner!.package);
    expect(build.files.filter((f) => f.owner === 'tooling')).toHaveLength(1000);
    expect(build.filesOmitted).toBe(build.counts.filesByOwner!.tooling - 1000);
    expect(pkg.find((f) => f.path === '/home/alex/.ssh/authorized_keys')).toMatchObject({ ops: ['create'], line: expect.any(Number) });
  });

  it('shows the package\'s files first with "N of M shown", the tooling\'s folded, and is far shorter than every row', () => {
    const html = renderHtml(r);
    const pkg = build.counts.filesByOwner!.package;
    expect(html).toContain(`<h3>The package's files: ${pkg} of ${pkg} shown</h3>`);
    expect(html).toMatch(new RegExp(`<details><summary>The tooling's files \\(pip, build environments, setuptools, PyTI\\): 50 of ${build.counts.filesByOwner!.tooling.toLocaleString('en-US').replace(/,/g, '\u202f')} shown</summary>`));
    const rows = (html.match(/<tr>/g) ?? []).length;
    expect(rows).toBeLessThan(pkg + 50 + 50);
    // The key write sits in the package's table, before the tooling's details.
    expect(html.indexOf('/home/alex/.ssh/authorized_keys')).toBeLessThan(html.indexOf("The tooling's files"));
    expect(html).toMatch(/<details open><summary><code>\d+<\/code> <span class="owner-tooling">tooling<\/span> <code>\/usr\/bin\/python3 -m build/);
  });

  it('links evidence to the raw line: beside the report by default, through the master\'s links when given', () => {
    const f = r.findings.find((x) => x.rule === 'sensitive-write')!;
    const line = f.evidence[0]!.line;
    expect(BUILD.toString('utf8').split('\n')[line - 1]).toContain('.ssh');
    const standalone = renderHtml(r);
    expect(standalone).toContain(`<a href="raw/build/build.strace">build.strace:${line}</a>`);
    const linked = renderHtml(r, { rawLine: (file, n) => `/audits/A1/${file}?line=${n}#L${n}`, traceViewer: (phase, kind, owner) => `/audits/A1/trace?phase=${phase}&kind=${kind}&owner=${owner}`, target: '_top' });
    expect(linked).toContain(`<a href="/audits/A1/raw/build/build.strace?line=${line}#L${line}" target="_top">build.strace:${line}</a>`);
    expect(linked).toContain('<a href="/audits/A1/trace?phase=build&amp;kind=files&amp;owner=package" target="_top">Open this trace in the trace viewer</a>');
  });
});

describe('raw file names', () => {
  it('match where the audit keeps each phase\'s trace', async () => {
    const { PHASE_TRACES } = await import('./trace-findings.js');
    const { phaseRawFile } = await import('./render-trace.js');
    for (const [phase, [task, file]] of Object.entries(PHASE_TRACES)) expect(phaseRawFile(phase as never)).toBe(`raw/${task}/${file}`);
  });
});
