import { type AuditReport, applyJudgement, renderHtml, renderTerminal } from '@pyti/common';
import { exitCodeFor } from '../audit.js';

const HOSTILE = '<script>alert(1)</script>';

function report(findings: AuditReport['findings'], result = 'pass'): AuditReport {
  return applyJudgement({
    schemaVersion: 1, tool: { name: 'pyti', version: '0.1.0' },
    distribution: { filename: 'evil-1.0.tar.gz', name: 'evil', version: '1.0', kind: 'sdist', sha256: 'a'.repeat(64), sizeBytes: 10, requiresDist: [] },
    backend: { name: 'bwrap', isolation: 'namespaces', network: 'none' },
    result, verdict: 'clean', score: 0, scoreReasons: [], tasks: [], traces: {}, findings,
    static: { files: 2, bytes: 300, truncated: false },
    timings: { startedAt: '2026-12-02T00:00:00.000Z', totalMs: 1 }, rawFiles: [],
  });
}

describe('verdict in the renderings and the exit code', () => {
  const bad = report([
    { rule: 'network-attempt', severity: 'critical', phase: 'build', title: 'build connects to 203.0.113.9:443', evidence: [{ phase: 'build', seq: 1, line: 7, pid: 12, summary: 'connect 203.0.113.9:443' }] },
    { rule: 'exec-base64', severity: 'high', phase: 'static', title: `setup.py decodes and runs code ${HOSTILE}`, evidence: [], sources: [{ file: 'evil-1.0/setup.py', line: 3, excerpt: `exec(b64decode("${HOSTILE}"))` }] },
  ], 'build-fail');

  it('the HTML banner gives verdict, score and reasons; static findings cite file:line and the escaped excerpt', () => {
    const html = renderHtml(bad);
    expect(html).toContain('<header class="malicious">');
    expect(html).toContain('<b>MALICIOUS</b> · score <b>140</b>');
    expect(html).toContain('+100 build connects to 203.0.113.9:443');
    expect(html).toContain('evil-1.0/setup.py:3');
    expect(html).toContain('exec(b64decode(&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;))');
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain('2 files');
  });

  it('the terminal summary gives the score and the top reasons', () => {
    const t = renderTerminal(bad);
    expect(t.split('\n')[0]).toBe('MALICIOUS  evil 1.0 (evil-1.0.tar.gz)  result: build-fail  score: 140');
    expect(t).toContain('+100 build connects to 203.0.113.9:443  [network-attempt]');
    expect(t).toContain('evil-1.0/setup.py:3');
  });

  it('exit codes: 4 malicious, 3 suspicious, 2 error, 1 failed or clean with failures, 0 clean', () => {
    expect(exitCodeFor(bad)).toBe(4);
    expect(exitCodeFor(report([{ rule: 'x', severity: 'medium', phase: 'install', title: 'x', evidence: [] }]))).toBe(3);
    expect(exitCodeFor(report([], 'error:sandbox'))).toBe(2);
    expect(exitCodeFor(report([], 'build-fail'))).toBe(1);
    expect(exitCodeFor(report([], 'test-fail'))).toBe(1);
    expect(exitCodeFor(report([]))).toBe(0);
    expect(exitCodeFor({ verdict: 'flagged' as AuditReport['verdict'], result: 'pass' })).toBe(3);
  });
});
