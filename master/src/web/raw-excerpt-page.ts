/**
 * A raw artifact's lines around one line, `/audits/<id>/raw/<file>?line=N&context=C`: where an
 * evidence link (`build.strace:10331`) lands. The lines are escaped text in a table (each row
 * `id="L<n>"`, the asked line highlighted), with links to more context and to the whole file as
 * text/plain.
 */
import { esc } from '@pyti/common';
import type { RawExcerpt } from '../trace/raw-excerpt.js';
import { pageShell } from './page-shell.js';

export interface RawExcerptPageInput {
  id: string;
  /** The audit's project and version. */
  title: string;
  /** The artifact (`raw/build/build.strace`). */
  file: string;
  context: number;
  excerpt: RawExcerpt;
}

/** The page (a complete HTML document). */
export function renderRawExcerptPage(i: RawExcerptPageInput): string {
  const e = i.excerpt;
  const base = `/audits/${encodeURIComponent(i.id)}/${i.file.split('/').map(encodeURIComponent).join('/')}`;
  const at = (line: number, context = i.context): string => `${base}?line=${line}&context=${context}#L${line}`;
  const wider = Math.min(200, Math.max(50, i.context * 2));
  const nav = [
    e.from > 1 ? `<a href="${esc(at(Math.max(1, e.from - i.context - 1)))}">‹ earlier lines</a>` : '',
    `<a href="${esc(at(e.line, wider))}">more context (${esc(wider)} lines)</a>`,
    e.more ? `<a href="${esc(at(e.from + e.lines.length + i.context))}">later lines ›</a>` : '',
    `<a href="${esc(`/api/v1/audits/${encodeURIComponent(i.id)}/${i.file.split('/').map(encodeURIComponent).join('/')}`)}">the whole file (text)</a>`,
  ].filter(Boolean).join(' · ');
  const rows = e.lines.map((l) => `<tr id="L${l.n}"${l.n === e.line ? ' class="hit"' : ''}><td class="num"><a href="#L${l.n}">${l.n}</a></td><td><pre>${esc(l.text)}${l.cut ? '<span class="muted"> […cut]</span>' : ''}</pre></td></tr>`).join('');
  const body = `<header><p><a href="/audits/${esc(encodeURIComponent(i.id))}">← the audit</a></p><h1>${esc(i.title)}: ${esc(i.file)} line ${esc(e.line)}</h1></header><main><section>`
    + `<p>${nav}</p>${e.found ? '' : `<p><b>The file has no line ${esc(e.line)}.</b></p>`}`
    + `<table class="excerpt">${rows}</table></section></main>`;
  return pageShell(`PyTI: ${i.title} — ${i.file}:${e.line}`, body);
}
