/**
 * The audit page's links into the trace viewer: one per traced phase whose raw trace the master
 * holds (the `raw/<task>/<phase>.strace` artifacts), to the package's files, processes and network.
 */
import { esc, PHASES } from '@pyti/common';
import type { AuditDetail } from '../user-api.js';
import { phaseTraceFile } from '../trace/trace-viewer.js';

/** The panel's HTML ('' when the audit has no trace). */
export function traceLinksPanel(d: Pick<AuditDetail, 'id' | 'artifacts'>): string {
  const names = new Set(d.artifacts.map((a) => a.name));
  const phases = PHASES.filter((p) => names.has(phaseTraceFile(p)));
  if (!phases.length) return '';
  const base = `/audits/${encodeURIComponent(d.id)}/trace`;
  const link = (phase: string, kind: string, text: string): string => `<a href="${esc(`${base}?${new URLSearchParams({ phase, kind, owner: 'package' }).toString()}`)}">${esc(text)}</a>`;
  return `<section><h2>Trace viewer</h2><p class="muted">Every file, process and network operation of each phase, the package's apart from its tooling's (pip, build environments, setuptools), each linked to its raw trace line.</p><ul>${phases.map((p) =>
    `<li><b>${esc(p)}</b>: ${link(p, 'files', 'files')} · ${link(p, 'processes', 'processes')} · ${link(p, 'network', 'network')}</li>`).join('')}</ul></section>`;
}
