/**
 * The report's trace sections (HTML), one per traced phase: counts by owner, the process tree as
 * nested `<details>` (the package's subtrees open, the tooling's folded), network operations, and the
 * package's paths apart from the tooling's (pip, build environments, setuptools, PyTI) — each table
 * saying how many rows it shows of how many. Evidence and rows link to the raw trace line where the
 * caller says how (`ReportLinks`); the master's pages also link the full trace viewer.
 * Every path, argv and address is from the sandbox: escaped.
 */
import type { AuditReport } from './audit-report.js';
import type { FileEntry, NetEntry, TracedProcess } from '../trace/process-tree.js';
import type { Phase } from '../findings/finding.js';
import { esc } from './html-escape.js';

/** How a rendering links raw lines and the trace viewer (the master's pages; a standalone report links the raw files beside it). */
export interface ReportLinks {
  /** URL of line `line` of raw file `file` (`raw/build/build.strace`). */
  rawLine?: (file: string, line: number) => string;
  /** URL of the trace viewer of `phase` (absent: no viewer). */
  traceViewer?: (phase: Phase, kind: 'files' | 'processes' | 'network', owner: 'package' | 'tooling' | 'all') => string;
  /** The links' target (`_top` when the report is shown in a frame). */
  target?: string;
}

/** Rows of the package's paths shown per phase, and of the tooling's. */
export const REPORT_PACKAGE_FILES = 300;
export const REPORT_TOOLING_FILES = 50;
const TREE_NODES = 400;

const n = (v: number): string => v.toLocaleString('en-US').replace(/,/g, '\u202f');

/**
 * The raw file a phase's strace lines are in (`raw/build/build.strace`: each traced phase's task has
 * its name, see PHASE_TRACES in trace-findings.ts), or its task's `file`.
 */
export function phaseRawFile(phase: Phase, file?: string): string {
  return `raw/${phase}/${file ?? `${phase}.strace`}`;
}

/** `<a>` to a raw line (or plain text when there is no way to link); `label` is escaped here. */
export function rawLineLink(links: ReportLinks, phase: Phase, line: number, label: string, file?: string): string {
  const raw = phaseRawFile(phase, file);
  const href = links.rawLine ? links.rawLine(raw, line) : raw;
  return `<a href="${esc(href)}"${links.target ? ` target="${esc(links.target)}"` : ''}>${esc(label)}</a>`;
}

function viewerLink(links: ReportLinks, phase: Phase, kind: 'files' | 'processes' | 'network', owner: 'package' | 'tooling' | 'all', text: string): string {
  return links.traceViewer ? ` <a href="${esc(links.traceViewer(phase, kind, owner))}"${links.target ? ` target="${esc(links.target)}"` : ''}>${esc(text)}</a>` : '';
}

const ownerTag = (o?: string): string => (o ? ` <span class="owner-${esc(o)}">${o === 'package' ? 'package' : 'tooling'}</span>` : '');

function processTree(procs: TracedProcess[]): string {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const roots = procs.filter((p) => p.ppid === undefined || !byPid.has(p.ppid));
  let budget = TREE_NODES;
  const seen = new Set<number>();
  const node = (p: TracedProcess, depth: number): string => {
    if (budget <= 0 || depth > 40 || seen.has(p.pid)) return '';
    budget--;
    seen.add(p.pid);
    const end = p.signal ? `killed by ${p.signal}` : p.exitCode !== undefined ? `exit ${p.exitCode}` : '';
    const head = `<code>${esc(p.pid)}</code>${ownerTag(p.owner)} <code>${esc(p.argv.join(' ').slice(0, 300))}</code> <span class="muted">${esc(end)}</span>`;
    const kids = p.children.map((c) => byPid.get(c)).filter((c): c is TracedProcess => !!c);
    if (!kids.length) return `<li>${head}</li>`;
    const open = p.owner !== 'tooling' || kids.some((k) => k.owner === 'package');
    return `<li><details${open ? ' open' : ''}><summary>${head} <span class="muted">(${esc(kids.length)} ${kids.length === 1 ? 'child' : 'children'})</span></summary><ul>${kids.map((k) => node(k, depth + 1)).join('')}</ul></details></li>`;
  };
  const body = roots.map((r) => node(r, 0)).join('');
  const note = procs.length > TREE_NODES - budget ? `<p class="muted">${esc(n(TREE_NODES - budget))} of ${esc(n(procs.length))} processes drawn.</p>` : '';
  return `<div class="tree"><ul>${body}</ul></div>${note}`;
}

function fileTable(links: ReportLinks, phase: Phase, files: FileEntry[]): string {
  return `<table><tr><th>path</th><th>operations</th><th class="num">count</th><th>line</th></tr>${files.map((f) =>
    `<tr><td><code>${esc(f.path)}</code></td><td>${esc(f.ops.join(', '))}${f.failed ? ' <span class="muted">(some failed)</span>' : ''}</td><td class="num">${esc(f.count)}</td><td>${f.line ? rawLineLink(links, phase, f.line, `${phase}.strace:${f.line}`) : ''}</td></tr>`).join('')}</table>`;
}

function networkTable(links: ReportLinks, phase: Phase, net: NetEntry[], total: number): string {
  if (!net.length) return '<p>No network operations.</p>';
  const shown = net.slice(0, 300);
  return `${total > shown.length ? `<p class="muted">${esc(n(shown.length))} of ${esc(n(total))} shown.</p>` : ''}<table><tr><th>op</th><th>target</th><th>result</th><th>DNS</th><th>owner</th><th>line</th></tr>${shown.map((x) =>
    `<tr><td>${esc(x.op)}</td><td><code>${esc(x.family)} ${esc(x.address)}${x.port !== undefined ? `:${esc(x.port)}` : ''}</code></td><td>${x.ok ? 'ok' : esc(x.errno ?? 'failed')}</td><td>${x.dns ? `<code>${esc(x.dns.type)} ${esc(x.dns.name)}</code>` : ''}</td><td>${ownerTag(x.owner).trim()}</td><td>${rawLineLink(links, phase, x.line, `${phase}.strace:${x.line}`)} <span class="muted">pid ${esc(x.pid)}</span></td></tr>`).join('')}</table>`;
}

/** Files of a phase: the package's first (and apart), the tooling's folded, each with "N of M shown". */
function filesPart(links: ReportLinks, phase: Phase, tr: NonNullable<AuditReport['traces'][Phase]>): string {
  const byOwner = tr.counts.filesByOwner;
  const writesFirst = (fs: FileEntry[]): FileEntry[] => fs.filter((f) => f.ops.some((o) => o !== 'read')).concat(fs.filter((f) => f.ops.every((o) => o === 'read')));
  if (!byOwner) {
    // Older reports: one table, as they were kept (the first 5 000 paths).
    const rows = writesFirst(tr.files).slice(0, REPORT_PACKAGE_FILES);
    return `<h3>Files (writes, deletes, and reads outside system locations)</h3><p class="muted">${esc(n(rows.length))} of ${esc(n(tr.files.length))} paths kept in the report shown.</p>${fileTable(links, phase, rows)}`;
  }
  const pkg = writesFirst(tr.files.filter((f) => f.owner === 'package'));
  const tool = writesFirst(tr.files.filter((f) => f.owner !== 'package'));
  const pkgRows = pkg.slice(0, REPORT_PACKAGE_FILES);
  const toolRows = tool.slice(0, REPORT_TOOLING_FILES);
  return `<h3>The package's files: ${esc(n(pkgRows.length))} of ${esc(n(byOwner.package))} shown${viewerLink(links, phase, 'files', 'package', 'all of them in the trace viewer')}</h3>`
    + `${pkgRows.length ? fileTable(links, phase, pkgRows) : '<p>None.</p>'}`
    + `<details><summary>The tooling's files (pip, build environments, setuptools, PyTI): ${esc(n(toolRows.length))} of ${esc(n(byOwner.tooling))} shown</summary>`
    + `${viewerLink(links, phase, 'files', 'tooling', 'all of them in the trace viewer')}${toolRows.length ? fileTable(links, phase, toolRows) : ''}</details>`;
}

/** The HTML sections of every traced phase. */
export function traceSections(r: AuditReport, links: ReportLinks): string {
  const out: string[] = [];
  for (const [phase, tr] of Object.entries(r.traces) as [Phase, AuditReport['traces'][Phase]][]) {
    if (!tr) continue;
    const procs = tr.processes ?? [];
    const pkgProcs = procs.filter((p) => p.owner === 'package').length;
    const owners = tr.counts.filesByOwner
      ? ` · the package: ${n(pkgProcs)} processes, ${n(tr.counts.filesByOwner.package)} paths · the tooling: ${n(procs.length - pkgProcs)} processes, ${n(tr.counts.filesByOwner.tooling)} paths`
      : '';
    out.push(`<section><h2>Install trace: ${esc(phase)}</h2><p class="muted">${esc(n(tr.counts.processes))} processes · ${esc(n(tr.counts.fileReads))} reads · ${esc(n(tr.counts.fileWrites))} writes · ${esc(n(tr.counts.deletes))} deletes · ${esc(n(tr.counts.network))} network operations · ${esc(n(tr.stats.lines))} trace lines${esc(owners)}</p>`
      + `${links.traceViewer ? `<p>${viewerLink(links, phase, 'files', 'package', 'Open this trace in the trace viewer').trim()} (every row, filters, search)</p>` : `<p class="muted">Raw trace: ${rawLineLink(links, phase, 1, phaseRawFile(phase))}</p>`}`
      + `<h3>Processes</h3>${processTree(procs)}<h3>Network</h3>${networkTable(links, phase, tr.network ?? [], tr.counts.network)}${filesPart(links, phase, tr)}</section>`);
  }
  return out.join('\n');
}
