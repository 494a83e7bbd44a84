/**
 * `/stats`: the queue's depth and upload-to-verdict latency (p50/p95) over time, from the samples of
 * cluster/queue-stats.ts, as inline SVG charts and a table (newest first). No scripts.
 */
import { esc } from '@pyti/common';
import type { QueueStatsView } from '../cluster/queue-stats.js';
import { durationText } from './duration-text.js';
import { pageShell } from './page-shell.js';
import { barChart, sparkline } from './svg-chart.js';

const every = (ms: number) => (ms > 0 ? `the master takes one sample every ${durationText(ms)}` : 'samples are taken on demand only');

/** The page. */
export function renderStatsPage(v: QueueStatsView): string {
  const s = v.samples;
  const label = (at: string) => at.replace('T', ' ').slice(0, 19);
  const charts = s.length
    ? `<h2>Queue depth (queued audits)</h2>${barChart('queued audits per sample', s.map((x) => ({ label: label(x.at), value: x.queued })), 'queued')}`
      + `<h2>Upload-to-verdict latency</h2>${sparkline('latency per sample', [
        { name: 'p50', colour: '#1e7a3c', points: s.map((x) => ({ label: label(x.at), value: x.latencyP50Ms === null ? null : x.latencyP50Ms / 1000 })) },
        { name: 'p95', colour: '#b3261e', points: s.map((x) => ({ label: label(x.at), value: x.latencyP95Ms === null ? null : x.latencyP95Ms / 1000 })) },
      ], 's')}`
    : `<p class="muted">No samples yet: ${esc(every(v.sampleEveryMs))}.</p>`;
  const rows = [...s].reverse().map((x) => `<tr><td>${esc(label(x.at))}</td><td class="num">${x.queued}</td><td class="num">${x.running}</td>`
    + `<td class="num">${x.finished}</td><td class="num">${esc(durationText(x.latencyP50Ms))}</td><td class="num">${esc(durationText(x.latencyP95Ms))}</td></tr>`).join('\n');
  const table = s.length
    ? `<table><thead><tr><th>sample (UTC)</th><th class="num">queued</th><th class="num">running</th><th class="num">verdicts</th>`
      + `<th class="num">latency p50</th><th class="num">latency p95</th></tr></thead><tbody id="samples">${rows}</tbody></table>`
    : '';
  const h = v.lastHour;
  const body = `<header><h1>PyTI queue stats</h1><p>now: <span id="now-queued">${v.now.queued}</span> queued · ${v.now.running} running`
    + ` · last hour: ${h.finished} verdicts, latency p50 <span id="p50">${esc(durationText(h.latencyP50Ms))}</span>, p95 <span id="p95">${esc(durationText(h.latencyP95Ms))}</span>`
    + ` · <a href="/">audits</a> · <a href="/slaves">slaves</a> · <a href="/subscriptions">subscriptions</a></p></header>`
    + `<main><section>${charts}</section><section><h2>Samples</h2><p class="muted">${esc(every(v.sampleEveryMs))};`
    + ` kept ${esc(durationText(v.retentionMs))}; latency is from the index\'s upload of the file (the submission when that is not known) to the verdict, over the audits that reached one since the previous sample.</p>${table}</section></main>`;
  return pageShell('PyTI queue stats', body);
}
