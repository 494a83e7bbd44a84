import { runInNewContext } from 'node:vm';
import { renderHtml, type AuditReport } from '@pyti/common';
import type { AuditDetail, AuditSummary } from '../user-api.js';
import { AUDIT_COLUMNS, auditCells, auditTone, renderAuditListPage, renderAuditPage } from './pages.js';

const HOSTILE = '<script>alert(1)</script>"\'&';

function summary(over: Partial<AuditSummary> = {}): AuditSummary {
  return {
    id: 'a1', state: 'done', verdict: 'clean', result: 'pass', source: 'upload', project: 'demo', version: '1.0', filename: 'demo-1.0.tar.gz',
    backend: 'bwrap', priority: 0, attempts: 1, maxAttempts: 3, submittedAt: '2025-01-02T03:04:05.000Z', startedAt: '2025-01-02T03:04:06.000Z',
    finishedAt: '2025-01-02T03:04:16.500Z', slave: 'slave-a', progress: null, findings: 0, error: null, ...over,
  };
}
function detail(over: Partial<AuditDetail> = {}): AuditDetail {
  return { ...summary(), artifacts: [], prefetch: null, attemptLog: [], events: [], ...over };
}
function report(name: string): AuditReport {
  return {
    schemaVersion: 1, tool: { name: 'pyti', version: '0.1.0' },
    distribution: { filename: `${name}-1.0.tar.gz`, name, version: '1.0', kind: 'sdist', sha256: 'ab'.repeat(32), sizeBytes: 10, requiresDist: [] },
    backend: { name: 'bwrap', isolation: 'namespaces', network: 'none' }, result: 'pass', verdict: 'clean', tasks: [], traces: {}, findings: [],
    timings: { startedAt: '2025-01-02T03:04:06.000Z', totalMs: 10000 }, rawFiles: [],
  };
}
const running = (over: Partial<AuditSummary> = {}): AuditSummary => summary({
  id: 'r1', state: 'running', verdict: null, result: null, finishedAt: null, findings: null,
  progress: { phase: 'auditing', task: 'install', tasksDone: 2, log: null }, ...over,
});

describe('audit list page', () => {
  it('escapes hostile project names, versions, file names and slaves', () => {
    const html = renderAuditListPage([summary({ project: HOSTILE, version: HOSTILE, filename: HOSTILE, slave: HOSTILE, id: 'x"><script>' })], { title: HOSTILE });
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('"><script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;');
    expect(html).not.toContain('<script');
  });

  it('colours rows: red for malicious, failed and error, orange for suspicious (and flagged), green for clean, neutral while moving or cancelled', () => {
    const cases: [Partial<AuditSummary>, string][] = [
      [{ verdict: 'clean' }, 'green'], [{ verdict: 'flagged', findings: 2 }, 'orange'], [{ verdict: 'suspicious', score: 40, findings: 1 }, 'orange'],
      [{ verdict: 'malicious', score: 140, findings: 3 }, 'red'], [{ verdict: 'failed', result: 'build-fail' }, 'red'],
      [{ verdict: 'error', result: 'error:job-timeout' }, 'red'],
      [{ state: 'error', verdict: 'error', result: null, error: { code: 'PYTI_ATTEMPTS_EXHAUSTED', message: 'x', attempts: [] } }, 'red'],
      [{ state: 'queued', verdict: null }, 'neutral'], [{ state: 'running', verdict: null }, 'neutral'], [{ state: 'cancelled', verdict: null }, 'neutral'],
    ];
    for (const [over, tone] of cases) {
      const a = summary({ id: `id-${tone}`, ...over });
      expect(auditTone(a)).toBe(tone);
      expect(renderAuditListPage([a], {})).toContain(`<tr id="audit-id-${tone}" class="tone-${tone}"`);
    }
    expect(renderAuditListPage([summary({ verdict: 'malicious', score: 140 })], {})).toContain('<td class="verdict-malicious">malicious · score 140</td>');
  });

  it('lists newest first, with a link to each audit and progress for running ones', () => {
    const html = renderAuditListPage([summary({ id: 'old', submittedAt: '2025-01-01T00:00:00Z' }), running({ id: 'new', submittedAt: '2025-01-03T00:00:00Z' })], {});
    expect(html.indexOf('audit-new')).toBeLessThan(html.indexOf('audit-old'));
    expect(html).toContain('<td class="project" title="every audit of demo"><a href="/projects/demo">demo</a></td>');
    expect(html).toContain('<td class="version"><a href="/audits/old">1.0</a></td>');
    expect(html).toContain('auditing · install · 2 tasks done');
    expect(html.match(/<th>/g)).toHaveLength(AUDIT_COLUMNS.length);
    expect(html).toMatch(/^<!doctype html>.*<\/html>$/s);
    // One asset only: the master's own stylesheet (allowed by the pages' CSP); no images, no other sources.
    expect(html.match(/<link\b[^>]*>/g)).toEqual(['<link rel="stylesheet" href="/assets/pyti.css">']);
    expect(html).not.toMatch(/<img\b|src=|<style/);
  });

  it('includes the live script only while something is queued or running', () => {
    expect(renderAuditListPage([summary(), summary({ id: 'c', state: 'cancelled', verdict: null })], {})).not.toContain('<script');
    for (const state of ['queued', 'running'] as const) {
      const html = renderAuditListPage([summary(), running({ state })], { nonce: 'n0nce+/=' });
      expect(html).toContain('<script id="pyti-live" nonce="n0nce+/=">');
      expect(html).toContain("fetch('/api/v1/audits?' + QUERY");
      expect(html).toContain('http-equiv="refresh"');
    }
    expect(renderAuditListPage([], {})).toContain('No audits yet');
  });

  it('runs the same row model in the browser script as on the server', () => {
    const html = renderAuditListPage([running({ project: HOSTILE })], { pollLimit: 7 });
    const js = /<script id="pyti-live" nonce="">([\s\S]*?)<\/script>/.exec(html)![1]!;
    const ctx: Record<string, unknown> = { setTimeout: () => 0, document: { getElementById: () => ({}) }, fetch: () => Promise.reject(new Error('no')) };
    runInNewContext(`${js}; this.cells = pytiCells; this.tone = pytiTone;`, ctx);
    const a = running({ project: HOSTILE });
    expect(JSON.parse(JSON.stringify((ctx.cells as typeof auditCells)(a, 1e12)))).toEqual(auditCells(a, 1e12));
    expect(js).toContain('var QUERY = "limit=50"');
  });
});

describe('audit page', () => {
  it('escapes everything the audit carries and keeps hostile artifact URLs from becoming links', () => {
    const d = detail({
      project: HOSTILE, state: 'error', verdict: 'error', result: null,
      error: { code: 'PYTI_ATTEMPTS_EXHAUSTED', message: HOSTILE, attempts: [{ attempt: 1, reason: HOSTILE }, { attempt: 2, reason: 'slave lost' }] },
      artifacts: [{ name: HOSTILE, sizeBytes: 2048, sha256: 'cd'.repeat(32), url: 'javascript:alert(1)' },
        { name: 'raw/install/strace.log', sizeBytes: 5, sha256: 'ef'.repeat(32), url: '/api/v1/audits/a1/artifacts/raw/install/strace.log' }],
      prefetch: {
        wheels: [HOSTILE], downloaded: 1, durationMs: 1500, error: HOSTILE,
        testRequirements: { requirements: [HOSTILE, 'pytest-cov'], sources: [HOSTILE, 'pytest addopts --cov → pytest-cov'], unresolved: [{ requirement: HOSTILE, reason: HOSTILE }] },
      },
      events: [{ at: '2025-01-02T03:04:07Z', kind: 'log', text: HOSTILE }],
    });
    const html = renderAuditPage(d, null);
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('href="javascript:');
    expect(html).toContain('<a href="/api/v1/audits/a1/artifacts/raw/install/strace.log">raw/install/strace.log</a>');
    expect(html).toContain('Could not audit: PYTI_ATTEMPTS_EXHAUSTED');
    expect(html).toContain('slave lost');
    expect(html).toContain('Dependencies: 1 wheels, 1 downloaded, in 1.5 s');
    expect(html).toContain('Test requirements: 2 resolved, 1 unresolved');
    expect(html).toContain('<li><code>pytest-cov</code> (pytest addopts --cov → pytest-cov)</li>');
    expect(html).toContain('class="tone-red"');
    expect(html).not.toContain('<script');
  });

  it('embeds the done report in a sandboxed frame, escaped, with links to its JSON and HTML', () => {
    const reportHtml = renderHtml(report(HOSTILE));
    const html = renderAuditPage(detail({ project: HOSTILE }), reportHtml, 'N1');
    expect(html).toContain('<iframe id="report" class="report" title="audit report" sandbox="allow-same-origin allow-top-navigation-by-user-activation" srcdoc="&lt;!doctype html&gt;');
    const srcdoc = /srcdoc="([^"]*)"/.exec(html)![1]!;
    // The frame inherits the page's CSP: the report's stylesheet carries the nonce, nothing else changes.
    expect(srcdoc.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'))
      .toBe(reportHtml.replace('<style>', '<style nonce="N1">'));
    expect(html).toContain('<script nonce="N1">');
    expect(html).toContain('href="/api/v1/audits/a1/report.json"');
    expect(html).toContain('class="tone-green"');
    expect(html).not.toContain('pyti-live');
    expect(renderAuditPage(detail(), null)).toContain('The report is not available');
  });

  it('shows live progress, polling the audit, only while it is queued or running', () => {
    const d = detail({ ...running(), id: 'r/1', events: [{ at: '2025-01-02T03:04:07Z', kind: 'task-started', text: 'install</script><script>x' }] });
    const html = renderAuditPage(d, null, 'N2');
    expect(html).toContain('<script id="pyti-live" nonce="N2">');
    expect(html).toContain('"/api/v1/audits/r%2F1"');
    expect(html).not.toContain('install</script><script>x');
    expect(html).toContain('running on slave-a: install');
    expect(html).not.toContain('<iframe');
    const done = renderAuditPage(detail({ events: d.events }), null);
    expect(done).not.toContain('pyti-live');
    expect(done).toContain('Progress log (1 events)');
  });

  it('shows the attempt history when an attempt was lost, and not for a plain first-time success', () => {
    const lost = renderAuditPage(detail({
      attempts: 2,
      attemptLog: [
        { attempt: 1, slave: HOSTILE, state: 'expired', reason: 'lease expired: slave a stopped answering', leasedAt: '2025-01-02T03:04:06.000Z', endedAt: '2025-01-02T03:05:06.000Z' },
        { attempt: 2, slave: 'b', state: 'completed', reason: null, leasedAt: '2025-01-02T03:05:07.000Z', endedAt: '2025-01-02T03:05:17.000Z' },
      ],
    }), null);
    expect(lost).toContain('<h2>Attempts</h2>');
    expect(lost).toContain('lease expired: slave a stopped answering');
    expect(lost).not.toContain('<script>alert(1)');
    const plain = renderAuditPage(detail({ attemptLog: [{ attempt: 1, slave: 'a', state: 'completed', reason: null, leasedAt: '2025-01-02T03:04:06.000Z', endedAt: null }] }), null);
    expect(plain).not.toContain('<h2>Attempts</h2>');
  });

  it('writes scripts that parse', () => {
    const pages = [renderAuditPage(detail({ ...running(), events: [] }), null), renderAuditPage(detail(), renderHtml(report('x'))), renderAuditListPage([running()], {})];
    const scripts = pages.flatMap((h) => [...h.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]!));
    expect(scripts).toHaveLength(3);
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    for (const js of scripts) expect(() => new Function(js)).not.toThrow();
  });
});
