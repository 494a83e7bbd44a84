/**
 * `/subscriptions` (each subscription with its cursor, lag and backlog) and `/subscriptions/<name>`
 * (its facts and its audits, newest first, paged with `?before=`). No scripts; every value escaped.
 */
import { esc } from '@pyti/common';
import type { SubscriptionAuditPage, SubscriptionStatus } from '../cluster/subscription-status.js';
import { AUDIT_COLUMNS } from './audit-row-model.js';
import { auditRowHtml } from './audit-list-page.js';
import { durationText } from './duration-text.js';
import { pageShell } from './page-shell.js';

const NAV = '<a href="/">audits</a> · <a href="/slaves">slaves</a> · <a href="/stats">stats</a> · <a href="/subscriptions">subscriptions</a>';

function cursorText(s: SubscriptionStatus): string {
  if (s.cursor.kind === 'commit') return s.cursor.commit ? `commit ${s.cursor.commit.slice(0, 12)}` : 'not polled yet';
  return s.cursor.serial === null ? '—' : `serial ${s.cursor.serial}`;
}

function lagText(s: SubscriptionStatus): string {
  const parts: string[] = [];
  if (s.lag.serials !== null) parts.push(`${s.lag.serials} serials behind`);
  if (s.lag.headAhead !== null) parts.push(s.lag.headAhead ? 'new commits on the branch' : 'at the branch head');
  parts.push(s.lag.sinceLastSuccessMs === null ? 'never polled' : `polled ${durationText(s.lag.sinceLastSuccessMs)} ago`);
  if (s.lag.oldestQueuedMs !== null) parts.push(`oldest queued ${durationText(s.lag.oldestQueuedMs)}`);
  return parts.join(' · ');
}

function backlogText(s: SubscriptionStatus): string {
  const b = s.backlog;
  return `${b.queued} queued, ${b.running} running${b.limit !== null ? ` (limit ${b.limit}, ${b.policy})` : ''}`;
}

const subHref = (name: string) => `/subscriptions/${encodeURIComponent(name)}`;

/** The list page. */
export function renderSubscriptionsPage(list: SubscriptionStatus[]): string {
  const rows = list.map((s) => {
    const sub = s.subscription;
    const tone = s.lastError ? 'tone-red' : sub.paused ? 'tone-orange' : s.backlog.full ? 'tone-orange' : 'tone-neutral';
    return `<tr id="sub-${esc(sub.name)}" class="${tone}"><td><a href="${esc(subHref(sub.name))}">${esc(sub.name)}</a></td><td>${esc(sub.kind)}</td>`
      + `<td>${esc(sub.paused ? `paused: ${sub.pausedReason ?? ''}` : 'active')}</td><td>${esc(cursorText(s))}</td><td>${esc(lagText(s))}</td>`
      + `<td>${esc(backlogText(s))}</td><td class="num">${sub.counts.submitted}</td>`
      + `<td>${s.lastError ? `${esc(s.lastError.code)}: ${esc(s.lastError.message)}` : ''}</td></tr>`;
  }).join('\n');
  const table = list.length
    ? `<table><thead><tr><th>subscription</th><th>kind</th><th>state</th><th>cursor</th><th>lag</th><th>backlog</th><th class="num">audits</th><th>last error</th></tr></thead>`
      + `<tbody id="subscriptions">${rows}</tbody></table>`
    : '<p class="muted">No subscriptions. Add one with <code>pyti subscribe</code>.</p>';
  return pageShell('PyTI subscriptions', `<header><h1>PyTI subscriptions</h1><p>${list.length} subscriptions · ${NAV}</p></header><main><section>${table}</section></main>`);
}

/** One subscription's page, with one page of its audits. */
export function renderSubscriptionPage(s: SubscriptionStatus, page: SubscriptionAuditPage, opts: { nowMs?: number; limit?: number } = {}): string {
  const sub = s.subscription;
  const spec = Object.entries(sub.spec).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('; ');
  const facts: [string, string][] = [
    ['kind', sub.kind], ['definition', spec || '—'], ['state', sub.paused ? `paused: ${sub.pausedReason ?? ''}` : 'active'],
    ['cursor', cursorText(s)], ['lag', lagText(s)], ['backlog', backlogText(s)], ['priority', String(sub.priority)], ['backend', sub.backend ?? 'default'],
    ['counts', `matched ${sub.counts.matched} · submitted ${sub.counts.submitted} · dropped ${sub.counts.dropped} · cancelled ${sub.counts.cancelled} · skipped ${sub.counts.skipped}`],
    ['last error', s.lastError ? `${s.lastError.code}: ${s.lastError.message} (${s.lastError.at})` : 'none'],
    ['created', sub.createdAt],
  ];
  const now = opts.nowMs ?? Date.now();
  const table = page.audits.length
    ? `<table><thead><tr>${AUDIT_COLUMNS.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody id="audits">${page.audits.map((a) => auditRowHtml(a.audit, now)).join('\n')}</tbody></table>`
    : '<p class="muted">No audits on this page.</p>';
  const more = page.next !== null
    ? `<p><a id="next-page" href="${esc(`${subHref(sub.name)}?before=${page.next}${opts.limit ? `&limit=${opts.limit}` : ''}`)}">older audits →</a></p>` : '';
  const body = `<header><h1>Subscription ${esc(sub.name)}</h1><p>${page.total} audits · ${NAV}</p></header><main>`
    + `<section><dl class="facts">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl></section>`
    + `<section><h2>Audits</h2>${table}${more}</section></main>`;
  return pageShell(`PyTI subscription ${sub.name}`, body);
}
