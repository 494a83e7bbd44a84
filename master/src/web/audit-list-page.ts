/**
 * The master's front page: every audit, newest first, its row red (malicious, failed, error), orange (suspicious), green
 * (clean) or neutral (queued, running, cancelled). While an audit is queued or running, a small inline
 * script polls `GET /api/v1/audits?limit=N` every 2 s and redraws the rows in place from the JSON
 * (cells assigned as text, never as HTML); without scripts the page is static (and refreshes itself).
 */
import { esc } from '@pyti/common';
import type { AuditSummary } from '../user-api.js';
import { AUDIT_COLUMNS, ROW_MODEL_JS, auditCells, auditTone, type RowCell } from './audit-row-model.js';
import { NOSCRIPT_REFRESH, inlineScript, pageShell, scriptJson } from './page-shell.js';
import type { QueueCounts } from '../search/audit-search.js';
import { filterQuery } from '../search/audit-filter.js';
import { countsHtml, filterFormHtml, pagerHtml } from './audit-list-controls.js';

/** Whether an audit is still moving (the pages poll while one is). */
export function isLive(a: Pick<AuditSummary, 'state'>): boolean {
  return a.state === 'queued' || a.state === 'running';
}

function cellHtml(c: RowCell): string {
  const inner = c.h ? `<a href="${esc(c.h)}">${esc(c.t)}</a>` : esc(c.t);
  return `<td${c.c ? ` class="${esc(c.c)}"` : ''}${c.title ? ` title="${esc(c.title)}"` : ''}>${inner}</td>`;
}

/** One `<tr>` of the audit list. */
export function auditRowHtml(a: AuditSummary, nowMs = Date.now()): string {
  return `<tr id="audit-${esc(a.id)}" class="tone-${auditTone(a)}" data-state="${esc(a.state)}">${auditCells(a, nowMs).map(cellHtml).join('')}</tr>`;
}

const LIVE_LIST_JS = `
(function () {
  var QUERY = __QUERY__, body = document.getElementById('audits'), note = document.getElementById('live-note');
  function row(a, now) {
    var tr = document.createElement('tr');
    tr.id = 'audit-' + a.id; tr.className = 'tone-' + pytiTone(a); tr.setAttribute('data-state', a.state);
    pytiCells(a, now).forEach(function (c) {
      var td = document.createElement('td');
      if (c.c) td.className = c.c;
      if (c.title) td.title = c.title;
      if (c.h) { var link = document.createElement('a'); link.href = c.h; link.textContent = c.t; td.appendChild(link); } else td.textContent = c.t;
      tr.appendChild(td);
    });
    return tr;
  }
  function tick() {
    fetch('/api/v1/audits?' + QUERY, { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (j) {
        var now = Date.now(), live = false, rows = [];
        (j.audits || []).forEach(function (a) { rows.push(row(a, now)); if (a.state === 'queued' || a.state === 'running') live = true; });
        body.replaceChildren.apply(body, rows);
        if (live) setTimeout(tick, 2000); else note.textContent = 'nothing running';
      })
      .catch(function (e) { note.textContent = 'live updates stopped (' + e.message + '); reload the page'; });
  }
  setTimeout(tick, 2000);
})();`;

/**
 * The list's filters and page, when the page shows one (`raw`: the checked query-string fields; `counts`:
 * the whole queue's; `total`: audits matching the filters).
 */
export interface AuditListView {
  raw: Record<string, unknown>;
  counts: QueueCounts;
  total: number;
  offset: number;
  limit: number;
}

/**
 * The front page: a complete HTML document listing `audits` (newest first) with live progress.
 * `nonce`: the response's CSP nonce (the live script does not run without it).
 */
export function renderAuditListPage(audits: AuditSummary[], opts: { title?: string; pollLimit?: number; view?: AuditListView; nonce?: string } = {}): string {
  const title = opts.title ?? 'PyTI audits';
  const sorted = [...audits].sort((a, b) => (a.submittedAt < b.submittedAt ? 1 : a.submittedAt > b.submittedAt ? -1 : 0));
  const now = Date.now();
  const live = sorted.some(isLive);
  const counts = (['queued', 'running'] as const).map((s) => `${sorted.filter((a) => a.state === s).length} ${s}`).join(' · ');
  const red = sorted.filter((a) => a.verdict === 'malicious').length;
  const orange = sorted.filter((a) => auditTone(a) === 'orange').length;
  const limit = Math.min(500, Math.max(50, opts.pollLimit ?? sorted.length));
  const table = sorted.length
    ? `<table><thead><tr>${AUDIT_COLUMNS.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody id="audits">${sorted.map((a) => auditRowHtml(a, now)).join('\n')}</tbody></table>`
    : opts.view && opts.view.counts.total > 0
      ? '<p class="muted">No audits match these filters.</p>'
      : '<p class="muted">No audits yet. Submit one with <code>pyti submit &lt;file.tar.gz|name==version&gt;</code>.</p>';
  const script = live && sorted.length
    ? inlineScript(`${ROW_MODEL_JS}${LIVE_LIST_JS.replace('__QUERY__', scriptJson(opts.view ? filterQuery(opts.view.raw, { limit: opts.view.limit }) : `limit=${limit}`))}`, opts.nonce ?? '', 'pyti-live')
    : '';
  const v = opts.view;
  const headline = v ? countsHtml(v.counts) : `${sorted.length} audits · ${counts} · ${red} malicious · ${orange} suspicious`;
  const controls = v ? `${filterFormHtml(v.raw)}` : '';
  const pager = v ? pagerHtml(v.raw, v.offset, v.limit, sorted.length, v.total) : '';
  const body = `<header><h1>${esc(title)}</h1><nav class="site"><a href="/subscriptions">subscriptions</a> · <a href="/slaves">slaves</a> · <a href="/stats">queue stats</a> · <a href="/feeds/audits.atom">Atom feed</a> · <a href="/feeds/flagged.atom">flagged feed</a></nav><p>${headline}`
    + ` · <span id="live-note">${live ? 'live' : 'nothing running'}</span></p></header><main>${controls}<section>${pager}${table}${pager}</section></main>${script}`;
  return pageShell(title, body, live ? NOSCRIPT_REFRESH : '');
}
