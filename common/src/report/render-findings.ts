/**
 * The report's findings table: severity, phase, title and rule, and the evidence — trace events
 * linked to their raw line (ReportLinks) and source lines with their excerpt. A page stays readable
 * when a rule fires hundreds of times (one `unexpected-write` per directory a package sprays): the
 * first findings of each rule are in the open, the rest folded by rule; a finding's first evidence
 * items are in the open, the rest folded. Everything from the sandbox or the archive is escaped.
 */
import type { AuditReport } from './audit-report.js';
import type { Finding } from '../findings/finding.js';
import { esc } from './html-escape.js';
import { rawLineLink, type ReportLinks } from './render-trace.js';

/** Findings of one rule shown before the rest are folded. */
export const OPEN_FINDINGS_PER_RULE = 10;
/** Evidence items of one finding shown before the rest are folded. */
export const OPEN_EVIDENCE = 5;

/** A finding's evidence: trace events (pid, phase.strace:line, linked) and source lines (file:line and the excerpt). */
export function evidenceCell(f: Finding, links: ReportLinks): string {
  const dyn = (f.evidence ?? []).map((e) => `<code>${esc(e.summary)}</code> <span class="muted">pid ${esc(e.pid)}, ${rawLineLink(links, e.phase, e.line, `${e.file ? `${e.phase}/${e.file}` : `${e.phase}.strace`}:${e.line}`, e.file)}</span>`);
  const src = (f.sources ?? []).map((s) => `<span class="muted">${esc(s.file)}:${esc(s.line)}</span><pre>${esc(s.excerpt)}</pre>`);
  const all = [...dyn, ...src];
  if (all.length <= OPEN_EVIDENCE + 1) return all.join('<br>');
  return `${all.slice(0, OPEN_EVIDENCE).join('<br>')}<details><summary>${esc(all.length - OPEN_EVIDENCE)} more</summary>${all.slice(OPEN_EVIDENCE).join('<br>')}</details>`;
}

const row = (f: Finding, links: ReportLinks): string =>
  `<tr><td class="sev-${esc(f.severity)}">${esc(f.severity)}</td><td>${esc(f.phase)}</td><td>${esc(f.title)}<br><span class="muted">${esc(f.rule)}</span></td><td>${evidenceCell(f, links)}</td></tr>`;

/** The findings section (most severe first, as the report keeps them). */
export function findingsSection(r: AuditReport, links: ReportLinks): string {
  if (!r.findings.length) return `<section><h2>Findings (0)</h2><p>No findings.</p></section>`;
  const head = '<tr><th>severity</th><th>phase</th><th>finding</th><th>evidence</th></tr>';
  const perRule = new Map<string, number>();
  const open: Finding[] = [];
  const folded = new Map<string, Finding[]>();
  for (const f of r.findings) {
    const n = perRule.get(f.rule) ?? 0;
    perRule.set(f.rule, n + 1);
    if (n < OPEN_FINDINGS_PER_RULE) open.push(f);
    else folded.set(f.rule, [...(folded.get(f.rule) ?? []), f]);
  }
  const rest = [...folded].map(([rule, fs]) =>
    `<details><summary>${esc(fs.length)} more <code>${esc(rule)}</code> findings (${esc(perRule.get(rule))} in all)</summary><table>${head}${fs.map((f) => row(f, links)).join('')}</table></details>`).join('');
  return `<section><h2>Findings (${r.findings.length})</h2><table>${head}${open.map((f) => row(f, links)).join('')}</table>${rest}</section>`;
}
