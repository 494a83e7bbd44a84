/** Where each task ran (host bubblewrap sandbox or the audit's guest), in the HTML and terminal task tables. */
import type { AuditReport, ReportTask } from './audit-report.js';
import { applyJudgement } from './apply-judgement.js';
import { renderHtml, taskWhereText } from './render-html.js';
import { renderTerminal } from './render-terminal.js';

const task = (id: string, where?: ReportTask['where']): ReportTask => ({ id, title: id, status: 'pass', failurePolicy: 'warn', durationMs: 1000, rawFiles: [], ...(where ? { where } : {}) });

function report(backend: AuditReport['backend'], tasks: ReportTask[]): AuditReport {
  return applyJudgement({
    schemaVersion: 1, tool: { name: 'pyti', version: '0.1.0' },
    distribution: { name: 'p', version: '1', requiresDist: [], filename: 'p-1.tar.gz', kind: 'sdist', sha256: 'a'.repeat(64), sizeBytes: 10 },
    backend, result: 'pass', verdict: 'clean', score: 0, scoreReasons: [], tasks, traces: {}, findings: [],
    timings: { startedAt: '2026-12-02T00:00:00.000Z', totalMs: 1 }, rawFiles: [],
  } as AuditReport);
}

describe('where each task ran', () => {
  const vm = report({ name: 'qemu', isolation: 'vm', network: 'none', accelerator: 'tcg' }, [task('inspect', 'host-bwrap'), task('build', 'guest'), task('lint', 'host-bwrap')]);

  it('HTML: a "ran in" column naming the host sandbox or the guest', () => {
    const html = renderHtml(vm);
    expect(html).toContain('<th>ran in</th>');
    expect(html).toMatch(/<b>inspect<\/b>.*?<td>host \(bwrap\)<\/td><\/tr>/);
    expect(html).toMatch(/<b>build<\/b>.*?<td>guest \(qemu\)<\/td><\/tr>/);
    expect(taskWhereText({ backend: { name: 'bwrap', isolation: 'namespaces', network: 'none' } }, 'guest')).toBe('bwrap');
    // Reports of older slaves say nothing: the cell stays empty.
    expect(taskWhereText(vm, undefined)).toBe('');
  });

  it('terminal: the host-run tasks are marked', () => {
    const lines = renderTerminal(vm).split('\n');
    expect(lines.find((l) => /^\s+inspect\s/.test(l))).toContain('[host bwrap]');
    expect(lines.find((l) => /^\s+lint\s/.test(l))).toContain('[host bwrap]');
    expect(lines.find((l) => /^\s+build\s/.test(l))).not.toContain('[host bwrap]');
  });
});

describe('how the install task installed', () => {
  it("HTML: an install row naming the host's plan and installer, or pip's resolver and why", () => {
    const planned = { ...report({ name: 'qemu', isolation: 'vm', network: 'none' }, []), install: { installer: 'installer' as const } };
    expect(renderHtml(planned)).toContain("<th>install</th><td>the host's plan, installed by installer (no resolver in the guest)</td>");
    const fallback = { ...planned, install: { installer: 'pip' as const, resolverFallback: { reason: 'dynamic <dependencies>', requirements: ['idx-leaf>=2'] } } };
    const html = renderHtml(fallback);
    expect(html).toContain("pip in the guest; pip's resolver ran for <code>idx-leaf&gt;=2</code> (dynamic &lt;dependencies&gt;)");
    // Older reports say nothing about it: no row.
    expect(renderHtml(report({ name: 'bwrap', isolation: 'namespaces', network: 'none' }, []))).not.toMatch(/<th>install<\/th>/);
  });
});
