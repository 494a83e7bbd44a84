/** A short terminal summary of an audit report. */
import type { AuditReport } from './audit-report.js';
import { testsTerminalLines } from './render-tests.js';
import { coverageHeadline, coverageState } from './render-coverage.js';

const COLORS: Record<string, string> = { clean: '32', flagged: '33', suspicious: '33', malicious: '1;31', failed: '31', error: '35', pass: '32', skipped: '90', critical: '31', high: '31', medium: '33', low: '36', info: '90' };

export function renderTerminal(r: AuditReport, color = false): string {
  const c = (key: string, s: string): string => (color && COLORS[key] ? `\x1b[${COLORS[key]}m${s}\x1b[0m` : s);
  const out: string[] = [];
  out.push(`${c(r.verdict, r.verdict.toUpperCase())}  ${r.distribution.name} ${r.distribution.version} (${r.distribution.filename})  result: ${r.result}  score: ${r.score ?? 0}`);
  for (const x of (r.scoreReasons ?? []).slice(0, 3)) out.push(`  +${String(x.points).padEnd(3)} ${x.title}  [${x.rule}]`);
  if (r.source?.kind === 'git') {
    out.push(`  source: git ${r.source.repo}  branch ${r.source.branch}  commit ${r.source.commit}`);
    out.push(`  sdist:  ${r.source.sdist ? `${r.source.sdist}, built offline in ${(r.source.buildMs / 1000).toFixed(1)}s` : 'the build from the commit failed'}`);
  }
  // Metadata is untrusted: no control characters (terminal escapes) reach the terminal.
  const plain = (v: string | undefined, max = 120): string => (v ?? '').replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').slice(0, max);
  const d = r.distribution;
  const about = [d.summary && plain(d.summary), d.author && `by ${plain(d.author, 60)}`, (d.licenseExpression || d.license) && `licence ${plain(d.licenseExpression ?? d.license!.split('\n')[0], 40)}`].filter(Boolean);
  if (about.length) out.push(`  ${about.join(' · ')}`);
  if (d.origin && d.origin.kind !== 'file') out.push(`  from: ${plain(d.origin.url, 300)}  sha256 ${d.origin.sha256Verified ? 'verified' : 'NOT verified (the index does not know the file)'}`);
  if (r.build?.missingToolchain?.length) out.push(`  missing toolchain (not in the image): ${r.build.missingToolchain.map((x) => plain(x, 80)).join(', ')}`);
  if (r.infraError) out.push(`  could not audit: ${r.infraError.kind}: ${r.infraError.message}`);
  for (const t of r.tasks) {
    const time = t.durationMs !== undefined ? `${(t.durationMs / 1000).toFixed(1)}s` : '';
    // Static tasks of a VM audit ran in the host's bubblewrap sandbox: marked, the others ran in the guest.
    const where = t.where === 'host-bwrap' ? ' [host bwrap]' : '';
    out.push(`  ${t.id.padEnd(9)} ${c(t.status === 'pass' ? 'pass' : t.status === 'skipped' ? 'skipped' : 'failed', t.status.padEnd(8))} ${time.padStart(7)}${where}  ${t.reason ?? ''}`);
  }
  out.push(...testsTerminalLines(r, c));
  const cov = coverageState(r);
  if (cov) out.push(`  coverage: ${cov.measured ? `${cov.percent}%` : coverageHeadline(cov).replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').slice(0, 300)}`);
  if (r.lint) out.push(`  pylint: ${r.lint.score ?? 'no score'}/10, ${Object.entries(r.lint.counts).map(([k, v]) => `${v} ${k}`).join(', ') || 'no messages'}`);
  if (r.style) out.push(`  pycodestyle: ${r.style.total} violations`);
  const tr = r.traces.install;
  if (tr) out.push(`  install trace: ${tr.counts.processes} processes, ${tr.counts.fileWrites} writes, ${tr.counts.network} network operations`);
  out.push(`  findings: ${r.findings.length ? '' : 'none'}`);
  for (const f of r.findings.slice(0, 20)) {
    const where = f.evidence[0]?.summary ?? (f.sources?.[0] ? `${f.sources[0].file}:${f.sources[0].line}` : '');
    out.push(`    ${c(f.severity, f.severity.toUpperCase().padEnd(8))} ${f.title}  [${f.rule}] ${where}`);
  }
  if (r.findings.length > 20) out.push(`    … ${r.findings.length - 20} more in the report`);
  return out.join('\n');
}
