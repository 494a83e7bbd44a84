/** The report's distribution metadata, rendered: every value escaped, links only for http(s), no terminal escapes. */
import type { AuditReport } from './audit-report.js';
import { applyJudgement } from './apply-judgement.js';
import { renderHtml } from './render-html.js';
import { renderTerminal } from './render-terminal.js';
import { parseCoreMetadata } from '../input/core-metadata.js';

const HOSTILE = '<script>alert(1)</script>';

function report(metadata: string, build?: AuditReport['build']): AuditReport {
  const m = parseCoreMetadata(metadata)!;
  return applyJudgement({
    schemaVersion: 1, tool: { name: 'pyti', version: '0.1.0' },
    distribution: { ...m, filename: 'evil-1.0.tar.gz', kind: 'sdist', sha256: 'a'.repeat(64), sizeBytes: 10 },
    backend: { name: 'bwrap', isolation: 'namespaces', network: 'none' },
    result: build?.missingToolchain ? 'build-fail:toolchain' : 'pass', verdict: 'clean', score: 0, scoreReasons: [], tasks: [], traces: {}, findings: [],
    build, timings: { startedAt: '2026-12-02T00:00:00.000Z', totalMs: 1 }, rawFiles: [],
  });
}

const META = [
  'Metadata-Version: 2.1', 'Name: evil', 'Version: 1.0', `Summary: sum ${HOSTILE}`, `Author: ${HOSTILE}`, 'Author-email: "x" <x@example.invalid>',
  'Home-page: javascript:alert(1)', `Project-URL: Docs${HOSTILE}, https://docs.example.invalid/?a=1&b="2"`, 'Project-URL: Bad, javascript:alert(2)',
  'License: MIT', `Keywords: a,${HOSTILE}`, `Classifier: Topic :: ${HOSTILE}`, 'Requires-Dist: requests<3', 'Description-Content-Type: text/markdown', '',
  `# Title\n<img src=x onerror=alert(3)>\n${HOSTILE}`,
].join('\n');

describe('distribution metadata in the renderings', () => {
  it('HTML: every field escaped, the description as text, only http(s) links', () => {
    const html = renderHtml(report(META));
    expect(html).toContain('<h2>Distribution</h2>');
    expect(html).not.toContain(HOSTILE);
    expect(html).not.toContain('<img');
    expect(html).not.toMatch(/href="javascript:/i);
    expect(html).toContain('sum &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<a href="https://docs.example.invalid/?a=1&amp;b=&quot;2&quot;" rel="nofollow noreferrer noopener">');
    expect(html).toContain('<code>javascript:alert(1)</code>');
    expect(html).toContain('&lt;img src=x onerror=alert(3)&gt;');
    expect(html).toContain('<code>requests&lt;3</code>');
    expect(html).toContain('description (text/markdown)');
  });

  it('HTML and terminal name a missing toolchain', () => {
    const r = report('Name: rusty\nVersion: 1\n', { mode: 'no-isolation', wheel: null, backend: 'maturin', missingToolchain: ['maturin (Rust toolchain: cargo, rustc)'] });
    expect(renderHtml(r)).toContain('<b>maturin (Rust toolchain: cargo, rustc)</b> (not in the image)');
    expect(renderTerminal(r)).toContain('missing toolchain (not in the image): maturin (Rust toolchain: cargo, rustc)');
  });

  it('terminal: summary, author and licence without control characters', () => {
    const t = renderTerminal(report('Name: e\nVersion: 1\nSummary: ok\x1b[2J\x1b]0;pwned\x07 text\nAuthor: Ann\nLicense: MIT\n'));
    expect(t).toContain('ok [2J ]0;pwned  text · by Ann · licence MIT');
    expect(t).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });
});
