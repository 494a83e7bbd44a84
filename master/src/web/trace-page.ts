/**
 * The trace viewer page, `/audits/<id>/trace`: one phase of an audit's trace at a time, the package's
 * activity apart from its tooling's (pip, build environments, setuptools, PyTI), as tables of files,
 * processes or network operations with counts ("100 of 1 693 shown"), a search form, paging links,
 * a collapsible process tree (`<details>`, no script), and every row's trace line linked to the raw
 * trace (`/audits/<id>/raw/<file>?line=N`). Everything shown is escaped; links are built from
 * validated values and encoded.
 */
import { esc, TRACE_OP_FILTERS, type Phase, type TraceFileRow, type TraceIndex, type TraceNetRow, type TraceProcessRow, type TraceQuery } from '@pyti/common';
import type { TraceAnswer } from '../trace/trace-viewer.js';
import { pageShell } from './page-shell.js';

/** Nodes of the process tree drawn at most. */
export const MAX_TREE_NODES = 2000;

/** What the page was asked for (the checked query). */
export interface TracePageInput {
  id: string;
  title: string;
  answer: TraceAnswer;
  query: TraceQuery;
  /** Counts of the other kinds of this phase, for the tabs. */
  kindTotals: Record<TraceQuery['kind'], { all: number; package: number; tooling: number }>;
  /** The phase's whole index, for the process tree (only with kind=processes). */
  tree?: TraceIndex;
}

const n = (v: number): string => v.toLocaleString('en-US').replace(/,/g, '\u202f');

/** `/audits/<id>/raw/<file>?line=N#LN`: the raw line, highlighted. */
export function rawLineHref(id: string, file: string, line: number): string {
  return `/audits/${encodeURIComponent(id)}/${file.split('/').map(encodeURIComponent).join('/')}?line=${line}#L${line}`;
}

/** The viewer URL with some parameters changed. */
function viewHref(i: TracePageInput, change: Partial<{ phase: Phase; kind: string; owner: string; q: string; op: string; offset: number }>): string {
  const cur = { phase: i.answer.phase, kind: i.query.kind, owner: i.query.owner ?? 'all', q: i.query.q ?? '', op: i.query.op ?? '', offset: 0, limit: i.query.limit, ...change };
  const p = new URLSearchParams({ phase: cur.phase, kind: cur.kind, owner: cur.owner });
  if (cur.op && TRACE_OP_FILTERS[cur.kind as keyof typeof TRACE_OP_FILTERS]?.includes(cur.op)) p.set('op', cur.op);
  if (cur.q) p.set('q', cur.q);
  if (cur.offset) p.set('offset', String(cur.offset));
  if (cur.limit !== 100) p.set('limit', String(cur.limit));
  return `/audits/${encodeURIComponent(i.id)}/trace?${p.toString()}`;
}

const link = (href: string, text: string, current: boolean): string =>
  current ? `<b>${esc(text)}</b>` : `<a href="${esc(href)}">${esc(text)}</a>`;

function lineCell(i: TracePageInput, line: number): string {
  return `<a href="${esc(rawLineHref(i.id, i.answer.file, line))}">${esc(`${i.answer.phase}.strace:${line}`)}</a>`;
}

const ownerTag = (o: string): string => `<span class="owner-${esc(o)}">${o === 'package' ? 'package' : 'tooling'}</span>`;

function fileRows(i: TracePageInput, rows: TraceFileRow[]): string {
  return `<table><tr><th>path</th><th>operations</th><th class="num">count</th><th>owner</th><th>first line</th></tr>${rows.map((f) =>
    `<tr><td><code>${esc(f.path)}</code></td><td>${esc(f.ops.join(', '))}${f.failed ? ' <span class="muted">(some failed)</span>' : ''}</td><td class="num">${esc(f.count)}</td><td>${ownerTag(f.owner)}</td><td class="line">${lineCell(i, f.line)} <span class="muted">pid ${esc(f.pid)}</span></td></tr>`).join('')}</table>`;
}

const argvText = (p: TraceProcessRow): string => (p.argv.length ? p.argv.join(' ') : p.exe ?? '(no exec)');
const exitText = (p: TraceProcessRow): string => (p.signal ? `killed by ${p.signal}` : p.exitCode !== undefined ? `exit ${p.exitCode}` : '');

function processRows(i: TracePageInput, rows: TraceProcessRow[]): string {
  return `<table><tr><th class="num">pid</th><th>command</th><th>ended</th><th>owner</th><th>line</th></tr>${rows.map((p) =>
    `<tr><td class="num"><code>${esc(p.pid)}</code></td><td><code>${esc(argvText(p).slice(0, 8192))}</code>${p.argvTruncated ? ' <span class="muted">[…cut]</span>' : ''}</td><td>${esc(exitText(p))}</td><td>${ownerTag(p.owner)}</td><td class="line">${lineCell(i, p.line)}</td></tr>`).join('')}</table>`;
}

function networkRows(i: TracePageInput, rows: TraceNetRow[]): string {
  return `<table><tr><th>op</th><th>target</th><th>result</th><th>DNS</th><th>owner</th><th>line</th></tr>${rows.map((r) =>
    `<tr><td>${esc(r.op)}</td><td><code>${esc(r.family)} ${esc(r.address)}${r.port !== undefined ? `:${esc(r.port)}` : ''}</code></td><td>${r.ok ? 'ok' : esc(r.errno ?? 'failed')}</td><td>${r.dns ? `<code>${esc(r.dns.type)} ${esc(r.dns.name)}</code>` : ''}</td><td>${ownerTag(r.owner)}</td><td class="line">${lineCell(i, r.line)} <span class="muted">pid ${esc(r.pid)}</span></td></tr>`).join('')}</table>`;
}

/** The process tree as nested `<details>`: the package's subtrees open, the tooling's folded. */
export function processTreeHtml(i: TracePageInput, index: TraceIndex): string {
  const byPid = new Map(index.processes.map((p) => [p.pid, p]));
  const roots = index.processes.filter((p) => p.ppid === undefined || !byPid.has(p.ppid));
  let budget = MAX_TREE_NODES;
  const seen = new Set<number>();
  const node = (p: TraceProcessRow, depth: number): string => {
    if (budget <= 0 || depth > 60 || seen.has(p.pid)) return '';
    budget--;
    seen.add(p.pid);
    const head = `<code>${esc(p.pid)}</code> ${ownerTag(p.owner)} <code>${esc(argvText(p).slice(0, 300))}</code> <span class="muted">${esc(exitText(p))}</span> ${lineCell(i, p.line)}`;
    const kids = p.children.map((c) => byPid.get(c)).filter((c): c is TraceProcessRow => !!c);
    if (!kids.length) return `<li>${head}</li>`;
    const open = kids.some((k) => k.owner === 'package') || p.owner === 'package';
    return `<li><details${open ? ' open' : ''}><summary>${head} <span class="muted">(${esc(kids.length)} ${kids.length === 1 ? 'child' : 'children'})</span></summary><ul>${kids.map((k) => node(k, depth + 1)).join('')}</ul></details></li>`;
  };
  const body = roots.map((r) => node(r, 0)).join('');
  const shown = MAX_TREE_NODES - budget;
  return `<section><h2>Process tree</h2><p class="muted">${esc(n(shown))} of ${esc(n(index.processes.length))} processes drawn · the package's subtrees are open, the tooling's folded</p><ul class="ptree">${body}</ul></section>`;
}

function pager(i: TracePageInput): string {
  const a = i.answer;
  const { offset, limit } = i.query;
  const lastStart = a.matched === 0 ? 0 : Math.floor((a.matched - 1) / limit) * limit;
  const parts = [
    offset > 0 ? `<a href="${esc(viewHref(i, { offset: 0 }))}">« first</a>` : '« first',
    offset > 0 ? `<a href="${esc(viewHref(i, { offset: Math.max(0, offset - limit) }))}">‹ previous</a>` : '‹ previous',
    offset + limit < a.matched ? `<a href="${esc(viewHref(i, { offset: offset + limit }))}">next ›</a>` : 'next ›',
    offset + limit < a.matched ? `<a href="${esc(viewHref(i, { offset: lastStart }))}">last »</a>` : 'last »',
  ];
  return `<p class="pager">${parts.join(' · ')}</p>`;
}

/** The whole page (a complete HTML document). */
export function renderTracePage(i: TracePageInput): string {
  const a = i.answer;
  const q = i.query;
  const owner = q.owner ?? 'all';
  const phases = a.phases.map((p) => link(viewHref(i, { phase: p, offset: 0 }), p, p === a.phase)).join(' · ');
  const kinds = (['files', 'processes', 'network'] as const).map((k) =>
    link(viewHref(i, { kind: k, offset: 0 }), `${k} (${n(i.kindTotals[k].package)} package · ${n(i.kindTotals[k].tooling)} tooling)`, k === q.kind)).join(' · ');
  const owners = ([['package', a.totals.package], ['tooling', a.totals.tooling], ['all', a.totals.all]] as const).map(([o, c]) =>
    link(viewHref(i, { owner: o, offset: 0 }), `${o === 'package' ? "the package's" : o === 'tooling' ? "the tooling's" : 'all'} (${n(c)})`, o === owner)).join(' · ');
  const form = `<form method="get" action="/audits/${esc(encodeURIComponent(i.id))}/trace" class="filters">`
    + `<input type="hidden" name="phase" value="${esc(a.phase)}"><input type="hidden" name="kind" value="${esc(q.kind)}"><input type="hidden" name="owner" value="${esc(owner)}">`
    + `${TRACE_OP_FILTERS[q.kind].length ? `<label>operation <select name="op"><option value="">any</option>${TRACE_OP_FILTERS[q.kind].map((o) =>
      `<option value="${esc(o)}"${o === q.op ? ' selected' : ''}>${esc(o === 'changed' ? 'changed (not only read)' : o)}</option>`).join('')}</select></label> ` : ''}`
    + `<label>search <input type="search" name="q" value="${esc(q.q ?? '')}" maxlength="500" placeholder="path, command or address"></label> `
    + `<label>rows <input type="number" name="limit" value="${esc(q.limit)}" min="1" max="1000"></label> <button type="submit">filter</button></form>`;
  const first = a.matched === 0 ? 0 : q.offset + 1;
  const last = Math.min(a.matched, q.offset + a.rows.length);
  const what = q.kind === 'files' ? 'paths' : q.kind === 'processes' ? 'processes' : 'network operations';
  const counts = `<p><b>${esc(n(a.rows.length))} of ${esc(n(a.matched))}</b> ${esc(what)} shown (${esc(n(first))}–${esc(n(last))})`
    + `${q.op ? ` with operation <code>${esc(q.op)}</code>` : ''}${q.q ? ` matching <code>${esc(q.q)}</code>` : ''} · ${esc(n(a.totals.all))} in all: ${esc(n(a.totals.package))} the package's, ${esc(n(a.totals.tooling))} the tooling's`
    + `${a.dropped ? ` · <b>${esc(n(a.dropped))} more not kept</b> (the viewer's limit)` : ''}${q.kind === 'files' ? ` · ${esc(n(a.probes))} probes (stat, access) counted, not listed` : ''}</p>`;
  const rows = q.kind === 'files' ? fileRows(i, a.rows as TraceFileRow[]) : q.kind === 'processes' ? processRows(i, a.rows as TraceProcessRow[]) : networkRows(i, a.rows as TraceNetRow[]);
  const raw = `<a href="${esc(`/api/v1/audits/${encodeURIComponent(i.id)}/${a.file.split('/').map(encodeURIComponent).join('/')}`)}">${esc(a.file)}</a>`;
  const body = `<header><p><a href="/audits/${esc(encodeURIComponent(i.id))}">← the audit</a></p><h1>${esc(i.title)} — trace of ${esc(a.phase)}</h1>`
    + `<p>raw trace ${raw} · the package's activity apart from its tooling's (pip, build environments, setuptools, PyTI's own scripts)</p></header><main>`
    + `<section><p>phase: ${phases}</p><p>${kinds}</p><p>owner: ${owners}</p>${form}</section>`
    + `<section>${counts}${pager(i)}${a.rows.length ? rows : '<p class="muted">Nothing matches.</p>'}${pager(i)}</section>`
    + `${i.tree ? processTreeHtml(i, i.tree) : ''}</main>`;
  return pageShell(`PyTI: ${i.title} — ${a.phase} trace`, body);
}
