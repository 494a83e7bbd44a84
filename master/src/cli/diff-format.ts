/**
 * `pyti diff` output: the diff as plain text, one section per kind of change, `+` for new and `-`
 * for gone (red and green on a terminal). Every string is cleaned of control characters.
 */
import type { AuditDiff, PhaseItem, SetDiff } from '../diff/audit-diff-types.js';
import { clean } from './terminal-text.js';

/** The diff as terminal text (`color`: ANSI colours). */
export function diffText(d: AuditDiff, color: boolean): string {
  const paint = (code: string, s: string): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const out: string[] = [];
  const side = (s: AuditDiff['from']): string => `${clean(s.project)} ${clean(s.version)} (${clean(s.filename)}${s.auditId ? `, audit ${clean(s.auditId)}` : ''}): ${clean(s.verdict)}, ${clean(s.result)}`;
  out.push(`from ${side(d.from)}`, `to   ${side(d.to)}`);
  if (!d.changed) {
    out.push('', 'nothing changed that PyTI observes');
    return out.join('\n');
  }
  if (d.highlights.length) out.push('', 'new since the older audit:', ...d.highlights.map((h) => `  ${clean(h)}`));
  const section = <T>(title: string, s: SetDiff<T>, text: (t: T) => string): void => {
    if (!s.added.length && !s.removed.length) return;
    out.push('', `${title}:`);
    for (const t of s.added) out.push(paint('31', `  + ${clean(text(t))}`));
    if (s.omitted?.added) out.push(`  + … ${s.omitted.added} more`);
    for (const t of s.removed) out.push(paint('32', `  - ${clean(text(t))}`));
    if (s.omitted?.removed) out.push(`  - … ${s.omitted.removed} more`);
  };
  const phase = (i: PhaseItem): string => `${i.phase}: ${i.text}`;
  section('findings', d.findings, (f) => `${f.severity.toUpperCase()} [${f.rule}] ${f.phase}: ${f.title}`);
  section('network targets', d.network, phase);
  section('DNS names', d.dns, phase);
  if (d.sinkhole) section('sinkhole traffic', d.sinkhole, phase);
  section('files written outside the install', d.files, phase);
  section('commands run', d.processes, phase);
  section('declared dependencies', d.dependencies.declared, (s) => s);
  section('installed dependencies', d.dependencies.installed, (p) => `${p.name} ${p.version}`);
  if (d.dependencies.changed.length) out.push('', 'dependency versions:', ...d.dependencies.changed.map((c) => `  ${clean(c.name)} ${clean(c.from)} → ${clean(c.to)}`));
  const t = d.tests;
  const counts = (c: AuditDiff['tests']['from']): string => (c ? `${c.passed} passed, ${c.failed + c.errors} failing of ${c.total}` : 'not run');
  out.push('', `tests: ${counts(t.from)} → ${counts(t.to)}`);
  for (const id of t.newFailures) out.push(paint('31', `  new failure: ${clean(id)}`));
  for (const id of t.fixed) out.push(paint('32', `  fixed: ${clean(id)}`));
  for (const id of t.added) out.push(`  new test: ${clean(id)}`);
  for (const id of t.removed) out.push(`  removed test: ${clean(id)}`);
  const change = (label: string, c: { from: unknown; to: unknown; changed: boolean }, unit = ''): void => {
    if (c.changed) out.push(`${label}: ${c.from === null ? '—' : `${clean(c.from)}${unit}`} → ${c.to === null ? '—' : `${clean(c.to)}${unit}`}`);
  };
  out.push('');
  change('coverage', d.coverage, '%');
  change('pylint score', d.lint.score);
  change('style violations', d.lint.style);
  for (const c of d.lint.counts) out.push(`pylint ${clean(c.type)}: ${c.from} → ${c.to}`);
  return out.join('\n').replace(/\n+$/, '');
}
