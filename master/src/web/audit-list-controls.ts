/**
 * The audit list's controls: the filter form (a GET form: filters are part of the address, so a
 * filtered list can be bookmarked and shared), the counts of the whole queue, and the pager.
 * Values are the raw query-string fields (already checked by checkAuditFilter); all escaped.
 */
import { esc } from '@pyti/common';
import { AUDIT_STATES, VERDICT_FILTERS, filterQuery } from '../search/audit-filter.js';
import type { QueueCounts } from '../search/audit-search.js';

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function select(name: string, label: string, values: readonly string[], raw: Record<string, unknown>): string {
  const cur = str(raw[name]);
  return `<label>${esc(label)}<select name="${esc(name)}"><option value="">any</option>${values.map((v) => `<option${v === cur ? ' selected' : ''}>${esc(v)}</option>`).join('')}</select></label>`;
}

function input(name: string, label: string, raw: Record<string, unknown>, type = 'text', placeholder = ''): string {
  return `<label>${esc(label)}<input type="${type}" name="${esc(name)}" value="${esc(str(raw[name]))}"${placeholder ? ` placeholder="${esc(placeholder)}"` : ''}></label>`;
}

/** The filter form of the list page. */
export function filterFormHtml(raw: Record<string, unknown>): string {
  return `<section><form class="filters" method="get" action="/" role="search">`
    + `${input('q', 'search projects', raw, 'search', 'name contains')}${select('verdict', 'verdict', VERDICT_FILTERS, raw)}${select('state', 'state', AUDIT_STATES, raw)}`
    + `${input('result', 'result', raw, 'text', 'e.g. test-fail')}${input('project', 'project', raw)}${input('subscription', 'subscription', raw)}`
    + `${input('rule', 'finding rule', raw, 'text', 'e.g. network-attempt')}${input('backend', 'backend', raw)}${input('slave', 'slave', raw)}`
    + `${input('since', 'submitted since', raw, 'date')}${input('until', 'until', raw, 'date')}`
    + `<input type="hidden" name="limit" value="${esc(str(raw.limit) || '')}"><button type="submit">filter</button> <a href="/">clear</a></form></section>`;
}

/** The whole queue's counts, one line. */
export function countsHtml(c: QueueCounts): string {
  const link = (text: string, q: string): string => `<a href="/?${esc(q)}">${esc(text)}</a>`;
  return `<span class="counts">${esc(c.total)} audits · ${link(`${c.queued} queued`, 'state=queued')} · ${link(`${c.running} running`, 'state=running')}`
    + ` · ${link(`${c.done} done`, 'state=done')} · ${link(`${c.failed} failed`, 'verdict=failed')} · ${link(`${c.flagged} flagged`, 'verdict=flagged')}`
    + ` <span class="muted">(${esc(c.malicious)} malicious, ${esc(c.suspicious)} suspicious, ${esc(c.error)} errors, ${esc(c.cancelled)} cancelled)</span></span>`;
}

/** Previous / next links for a page at `offset` of `total` matching audits. */
export function pagerHtml(raw: Record<string, unknown>, offset: number, limit: number, shown: number, total: number): string {
  if (total <= limit && offset === 0) return `<nav class="pager"><span class="muted">${esc(total)} matching</span></nav>`;
  const prev = offset > 0 ? `<a rel="prev" href="/?${esc(filterQuery(raw, { offset: Math.max(0, offset - limit) || undefined, after: undefined }))}">← newer</a>` : '';
  const next = offset + shown < total ? `<a rel="next" href="/?${esc(filterQuery(raw, { offset: offset + limit, after: undefined }))}">older →</a>` : '';
  return `<nav class="pager">${prev}${next}<span class="muted">${esc(shown ? offset + 1 : 0)}–${esc(offset + shown)} of ${esc(total)} matching</span></nav>`;
}
