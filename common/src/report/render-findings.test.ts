/** The findings table folds a rule that fires hundreds of times and a finding's long evidence, and escapes it all. */
import type { AuditReport } from './audit-report.js';
import type { Finding } from '../findings/finding.js';
import { findingsSection } from './render-findings.js';

const XSS = '<script>alert(1)</script>';
const ev = (i: number) => ({ phase: 'build' as const, seq: i, line: 100 + i, pid: 7, summary: `create /home/alex/.cache/x/${XSS}${i}` });
const spray = (d: number): Finding => ({ rule: 'unexpected-write', severity: 'medium', phase: 'build', title: `build writes outside the install locations: /d${d}`, evidence: Array.from({ length: 20 }, (_, i) => ev(i)) });

describe('the findings table', () => {
  const findings: Finding[] = [{ rule: 'sensitive-write', severity: 'critical', phase: 'build', title: 'writes ~/.ssh', evidence: [ev(1)] }, ...Array.from({ length: 25 }, (_, d) => spray(d))];
  const html = findingsSection({ findings } as AuditReport, { rawLine: (f, n) => `/audits/A/${f}?line=${n}#L${n}` });

  it('shows the first ten findings of a rule, folds the rest by rule', () => {
    expect(html).toContain('<h2>Findings (26)</h2>');
    const fold = html.indexOf('<details><summary>15 more <code>unexpected-write</code> findings (25 in all)</summary>');
    expect(fold).toBeGreaterThan(0);
    expect(html.indexOf('locations: /d9<')).toBeLessThan(fold);
    expect(html.indexOf('locations: /d10<')).toBeGreaterThan(fold);
    expect(html.indexOf('writes ~/.ssh')).toBeLessThan(html.indexOf('locations: /d0<'));
  });

  it('shows five evidence items of a finding, folds the rest, links each to its raw line, escapes summaries', () => {
    expect(html).toContain('<details><summary>15 more</summary>');
    expect(html).toContain('<a href="/audits/A/raw/build/build.strace?line=101#L101">build.strace:101</a>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain(XSS);
  });

  it('a report without findings says so', () => {
    expect(findingsSection({ findings: [] as Finding[] } as AuditReport, {})).toBe('<section><h2>Findings (0)</h2><p>No findings.</p></section>');
  });
});
