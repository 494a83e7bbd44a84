/** The HTML section of a report's `reach` (reach.ts): fallback modules used, Windows shims run, execute calls. */
import type { AuditReport } from './audit-report.js';
import { esc } from './html-escape.js';

/** The section, or '' when the report has no reach data worth showing. */
export function reachSection(r: AuditReport): string {
  const reach = r.reach;
  if (!reach) return '';
  const rows: string[] = [];
  rows.push(`<tr><th>fallback modules used</th><td>${reach.fallbackModulesUsed.length
    ? reach.fallbackModulesUsed.map((m) => `<code>${esc(m.module)}</code> <span class="muted">(${esc(m.phase)})</span>`).join(', ')
    : '<span class="muted">none: every import resolved to a declared dependency or the standard library</span>'}</td></tr>`);
  rows.push(`<tr><th>Windows programs run (shims)</th><td>${reach.windowsCommands.length
    ? reach.windowsCommands.slice(0, 50).map((c) => `<code>${esc(`${c.program} ${c.argv.join(' ')}`.slice(0, 300))}</code> <span class="muted">(${esc(c.phase)}, pid ${esc(c.pid)})</span>${c.decoded !== undefined ? `<br>decoded: <code>${esc(c.decoded.slice(0, 1000))}</code>` : ''}`).join('<br>')
    : '<span class="muted">none</span>'}</td></tr>`);
  const ex = reach.execute;
  if (ex) {
    const counts = Object.entries(ex.outcomes).map(([k, v]) => `${esc(v)} ${esc(k)}`).join(', ');
    rows.push(`<tr><th>execute</th><td>${esc(ex.calls.length)} calls${counts ? ` (${counts})` : ''}${ex.truncated ? ', capped' : ''}<details><summary>calls</summary><table>${ex.calls.slice(0, 300).map((c) =>
      `<tr><td>${esc(c.kind)}</td><td><code>${esc(c.target)}</code></td><td>${esc(c.outcome)}</td><td class="muted">${esc(c.detail.slice(0, 200))}</td></tr>`).join('')}</table></details></td></tr>`);
  }
  return `<section><h2>Reaching the payload</h2><table>${rows.join('')}</table></section>`;
}
