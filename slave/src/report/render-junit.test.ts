/**
 * Test names and failure messages from real pytest JUnit XML (results/testdata/pytest-junit.xml,
 * made by pytest from testdata/test_sample.py: `<`, `&`, quotes, newlines, é in names and
 * messages) are decoded once by the parser and escaped once by the report: what a browser shows
 * has no `&lt;`, `&amp;`, `&quot;` or `&#10;`, and multi-line messages keep their lines.
 */
import { readFileSync } from 'node:fs';
import { testsHtmlSections, type AuditReport } from '@pyti/common';
import { buildTestSummary } from '../results/test-summary.js';

const JUNIT = readFileSync(new URL('../results/testdata/pytest-junit.xml', import.meta.url));

/** What a browser shows for an HTML fragment's text: tags dropped, character references decoded once. */
function shown(html: string): string {
  return html.replace(/<[^>]*>/g, '').replace(/&(lt|gt|quot|#39|amp);/g, (_a, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!);
}
/** The text of every <pre> in `html`, as shown. */
const pres = (html: string): string[] => [...html.matchAll(/<pre>([\s\S]*?)<\/pre>/g)].map((m) => shown(m[1]!));

describe('JUnit text in the report', () => {
  const tests = buildTestSummary({ junit: JUNIT, task: { status: 'fail' } }, [])!;
  const html = testsHtmlSections({ tests } as AuditReport);
  const text = shown(html);

  it('parses the real file once-decoded', () => {
    expect(tests.source).toBe('junit.xml');
    expect(tests.cases.map((c) => c.name)).toEqual(expect.arrayContaining(['test_param[<a>]', 'test_param[b&c]', 'test_param[q"q]']));
    expect(tests.cases.find((c) => c.name === 'test_lt')!.message).toBe('AssertionError: one is not < zero & "quoted" \'single\'\nassert 1 < 0');
  });

  it('shows names and messages as written: no entity on screen', () => {
    expect(text).toContain('test_sample::test_param[<a>]');
    expect(text).toContain('test_sample::test_param[b&c]');
    expect(text).toContain('test_sample::test_param[q"q]');
    expect(text).toContain('AssertionError: one is not < zero & "quoted" \'single\'');
    expect(text).not.toMatch(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/i);
    expect(html).not.toContain('&amp;lt;');
    expect(html).not.toContain('<a>');
  });

  it('failures in the open, passed, skipped and xfailed tests folded', () => {
    const fold = html.indexOf('<details><summary>4 passed, skipped or xfailed tests</summary>');
    expect(fold).toBeGreaterThan(0);
    expect(html.indexOf('test_sample::test_lt')).toBeLessThan(fold);
    expect(html.indexOf('test_sample.TestK::test_ok')).toBeGreaterThan(fold);
  });

  it('multi-line messages are preformatted with their lines', () => {
    const p = pres(html);
    expect(p).toEqual(expect.arrayContaining([expect.stringContaining("AssertionError: assert 'a\\nb' == 'a\\nc'\n    a\n  - c\n  + b")]));
    expect(p).toEqual(expect.arrayContaining([expect.stringContaining('E       AssertionError: one is not < zero & "quoted" \'single\'\nE       assert 1 < 0')]));
  });
});
