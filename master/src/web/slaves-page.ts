/**
 * `/slaves`: every slave with its backends, capacity (job slots, and VM guests restored and waiting in
 * its pools, as its last heartbeat said), running jobs, throughput in the last hour, last
 * heartbeat and status, and a form per slave to drain it (or withdraw the request). The forms POST to
 * `/slaves/<name>/drain` and `/slaves/<name>/undrain` (cluster-page-routes.ts checks the token and
 * that the form came from this origin). No scripts. Every value is escaped.
 */
import { esc } from '@pyti/common';
import type { SlaveOverview } from '../cluster/slave-activity.js';
import type { SlavePools } from '../cluster/slave-pools.js';
import { durationText } from './duration-text.js';
import { pageShell } from './page-shell.js';

const STATUS_TONE: Record<SlaveOverview['status'], string> = {
  working: 'tone-green', idle: 'tone-neutral', draining: 'tone-orange', 'drain-requested': 'tone-orange', offline: 'tone-red', unregistered: 'tone-neutral',
};

function actionForm(s: SlaveOverview): string {
  const base = `/slaves/${encodeURIComponent(s.name)}`;
  if (s.drainRequested || s.draining) {
    const undo = s.drainRequested ? `<form method="post" action="${esc(`${base}/undrain`)}"><button type="submit">undrain</button></form>` : '';
    return `${undo}${s.draining ? '<span class="muted">finishing its jobs; restart it to work again</span>' : ''}`;
  }
  return `<form method="post" action="${esc(`${base}/drain`)}"><button type="submit">drain</button></form>`;
}

/** The pools cell: `qemu 1/2` (ready of size) per backend, or — when the slave reports none or is offline. */
function poolCell(s: SlaveOverview, pools: SlavePools | undefined): string {
  const seen = s.status === 'offline' || s.status === 'unregistered' ? undefined : pools?.of(s.name);
  if (!seen) return '<td class="pool">—</td>';
  const parts = seen.pools.map((p) => `<span class="${p.ready < p.size ? 'tone-orange' : 'tone-green'}" data-backend="${esc(p.backend)}" data-ready="${p.ready}" data-size="${p.size}">${esc(p.backend)} ${p.ready}/${p.size}</span>`);
  return `<td class="pool">${parts.join(' ')}</td>`;
}

/**
 * The page; `nowMs` for the heartbeat ages; `notice` a line shown above the table (e.g. after a
 * drain); `pools` the slaves' pools of ready VM guests.
 */
export function renderSlavesPage(slaves: SlaveOverview[], opts: { nowMs?: number; notice?: string; pools?: SlavePools } = {}): string {
  const now = opts.nowMs ?? Date.now();
  const rows = slaves.map((s) => {
    const beat = s.lastSeen === null ? '—' : `${durationText(Math.max(0, now - Date.parse(s.lastSeen)))} ago`;
    return `<tr id="slave-${esc(s.name)}" class="${STATUS_TONE[s.status]}" data-status="${esc(s.status)}">`
      + `<td>${esc(s.name)}</td><td>${esc(s.host ?? '—')}</td><td>${esc(s.backends.join(', ') || '—')}</td>`
      + `<td class="num">${s.capacity ?? '—'}</td>${poolCell(s, opts.pools)}<td class="num">${s.running}</td><td class="num">${s.completedLastHour}</td>`
      + `<td class="num">${s.failedLastHour}</td><td title="${esc(s.lastSeen ?? '')}">${esc(beat)}</td><td>${esc(s.status)}</td>`
      + `<td>${esc(s.version ?? '—')}</td><td>${actionForm(s)}</td></tr>`;
  }).join('\n');
  const totalCap = slaves.reduce((n, s) => n + (s.status === 'offline' || s.status === 'unregistered' ? 0 : s.capacity ?? 0), 0);
  const running = slaves.reduce((n, s) => n + s.running, 0);
  const done = slaves.reduce((n, s) => n + s.completedLastHour, 0);
  const live = slaves.filter((s) => s.status !== 'offline' && s.status !== 'unregistered');
  const guests = live.flatMap((s) => opts.pools?.of(s.name)?.pools ?? []);
  const guestText = guests.length ? ` · ${guests.reduce((n, p) => n + p.ready, 0)} of ${guests.reduce((n, p) => n + p.size, 0)} pooled VM guests ready` : '';
  const table = slaves.length
    ? `<table><thead><tr><th>slave</th><th>host</th><th>backends</th><th class="num">capacity</th><th title="VM guests restored and waiting for the next jobs: ready/size per backend">ready guests</th><th class="num">running</th>`
      + `<th class="num">done (1 h)</th><th class="num">lost (1 h)</th><th>last heartbeat</th><th>status</th><th>version</th><th>drain</th></tr></thead>`
      + `<tbody id="slaves">${rows}</tbody></table>`
    : '<p class="muted">No slave has registered yet. Start one with <code>pyti slave</code>.</p>';
  const notice = opts.notice ? `<section><p id="notice">${esc(opts.notice)}</p></section>` : '';
  const body = `<header><h1>PyTI slaves</h1><p>${slaves.length} slaves · ${running} of ${totalCap} job slots in use${guestText} · ${done} jobs done in the last hour`
    + ` · <a href="/">audits</a> · <a href="/stats">stats</a> · <a href="/subscriptions">subscriptions</a></p></header>`
    + `<main>${notice}<section>${table}<p class="muted">Draining a slave lets it finish its running jobs; it leases no new ones.`
    + ' Undrain withdraws a request the slave has not received yet (a slave that is draining stops when done; restart it to work again).</p></section></main>';
  return pageShell('PyTI slaves', body);
}
