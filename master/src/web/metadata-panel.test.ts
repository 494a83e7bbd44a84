/** The audit page's metadata panel from a stored report's core metadata (parsed by the slave's real parser): escaped, links only for http(s). */
import { parseCoreMetadata } from '@pyti/common';
import { metadataPanel } from './metadata-panel.js';

const XSS = '<script>alert(1)</script>';
const META = [
  'Metadata-Version: 2.1', 'Name: evil', 'Version: 1.0', `Summary: sum ${XSS}`, `Author: ${XSS}`, 'Author-email: "x" <x@example.invalid>',
  'Home-page: javascript:alert(1)', `Project-URL: Docs${XSS}, https://docs.example.invalid/?a=1&b="2"`, 'Project-URL: Bad, javascript:alert(2)',
  'License: MIT', `Classifier: Topic :: ${XSS}`, 'Requires-Python: >=3.8', 'Requires-Dist: requests<3', 'Description-Content-Type: text/markdown', '',
  `# Title\n<img src=x onerror=alert(3)>\n${XSS}\n\nsecond paragraph`,
].join('\n');

describe('metadataPanel', () => {
  const html = metadataPanel(JSON.stringify({ distribution: { ...parseCoreMetadata(META), filename: 'evil-1.0.tar.gz' } }));

  it('shows every core field, escaped, the description as text', () => {
    expect(html).toContain('<h2>Package metadata</h2>');
    expect(html).toContain('<dt>summary</dt><dd>sum &lt;script&gt;alert(1)&lt;/script&gt;</dd>');
    expect(html).toContain('<dt>author</dt><dd>&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<dt>licence</dt><dd>MIT</dd>');
    expect(html).toContain('<dt>requires Python</dt><dd><code>&gt;=3.8</code></dd>');
    expect(html).toContain('<code>requests&lt;3</code>');
    expect(html).toContain('Topic :: &lt;script&gt;');
    expect(html).toContain('description (text/markdown, shown as text)');
    expect(html).toMatch(/<pre># Title\n&lt;img src=x onerror=alert\(3\)&gt;\n&lt;script&gt;alert\(1\)&lt;\/script&gt;\n\nsecond paragraph<\/pre>/);
    expect(html).not.toContain(XSS);
    expect(html).not.toContain('<img');
  });

  it('links only http(s) URLs', () => {
    expect(html).toContain('<a href="https://docs.example.invalid/?a=1&amp;b=&quot;2&quot;" rel="nofollow noopener noreferrer">');
    expect(html).toContain('<code>javascript:alert(1)</code>');
    expect(html).toContain('<code>javascript:alert(2)</code>');
    expect(html).not.toMatch(/href="javascript:/i);
  });

  it('says so when the distribution declares nothing beyond its name and version', () => {
    const bare = metadataPanel(JSON.stringify({ distribution: { name: 'bare<b>', version: '1.0', filename: 'bare-1.0.tar.gz', requiresDist: [] } }));
    expect(bare).toContain('<p><b>bare&lt;b&gt;</b> 1.0 · <code>bare-1.0.tar.gz</code></p>');
    expect(bare).toContain('declares no summary, author, licence, URLs, requirements or classifiers');
  });

  it('ignores what is not metadata-shaped and reports that do not parse', () => {
    expect(metadataPanel(null)).toBe('');
    expect(metadataPanel('{')).toBe('');
    expect(metadataPanel(JSON.stringify({ distribution: { summary: 42, requiresDist: [1, { x: XSS }], projectUrls: 'x' } }))).toBe('');
  });
});
