/**
 * The page of one audit: its header (state, verdict, attempts and their reasons when it errored,
 * the prefetched dependencies, links to the report and its raw artifacts), the progress events, and
 * once done the report itself.
 *
 * The report (renderHtml's self-contained page, which has no scripts) is embedded as
 * `<iframe srcdoc sandbox="allow-same-origin">`: its stylesheet styles `body`, `header`, `table` … and
 * would restyle this page if inlined; in a sandboxed frame it renders exactly as the standalone report
 * and still cannot run anything; its evidence and trace-viewer links open in the top window (`target=_top`,
 * allowed on a click only: `allow-top-navigation-by-user-activation`). A one-line script sizes the frame to its content (without scripts it
 * is 85% of the window high and scrolls).
 *
 * While the audit is queued or running, a small script polls `GET /api/v1/audits/:id` every 2 s,
 * appends new events (as text) and reloads the page when the audit ends.
 */
import { esc } from '@pyti/common';
import type { AuditDetail } from '../user-api.js';
import { auditCells, auditTone } from './audit-row-model.js';
import { durationText } from './duration-text.js';
import { isLive } from './audit-list-page.js';
import { NOSCRIPT_REFRESH, inlineScript, pageShell, scriptJson } from './page-shell.js';
import { prunedSummary } from '../retention/pruned-artifacts.js';

/** Only same-site paths and http(s) URLs become links; anything else (`javascript:` …) stays text. */
function safeHref(url: string): string | null {
  return /^\/(?!\/)/.test(url) || /^https?:\/\//i.test(url) ? url : null;
}

function bytes(n: number): string {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

/** The observation sent to the index for this file: sent, pending (with tries so far) or failed (why). */
function observationText(d: AuditDetail): string {
  const o = d.observation;
  if (!o) return '';
  const by = o.jobId === d.id ? '' : ` <span class="muted">(after audit <a href="/audits/${esc(encodeURIComponent(o.jobId))}">${esc(o.jobId)}</a>)</span>`;
  if (o.state === 'sent') return `<span class="obs-sent">sent</span> ${esc(o.sentAt ?? '')}${by}`;
  if (o.state === 'pending') return `<span class="obs-pending">pending</span>${o.attempts ? `, ${esc(o.attempts)} failed tries: ${esc(o.error ?? '')}` : ''}${by}`;
  return `<span class="obs-failed">failed</span> after ${esc(o.attempts)} tries: ${esc(o.error ?? '')}${by}`;
}

function facts(d: AuditDetail): string {
  const cells = auditCells(d);
  const row = (k: string, v: string): string => (v ? `<dt>${esc(k)}</dt><dd>${v}</dd>` : '');
  return `<dl class="facts">${[
    row('state', `<span class="state-${esc(d.state)}">${esc(d.state)}</span>`),
    row('verdict', d.verdict ? `<span class="verdict-${esc(d.verdict)}">${esc(d.verdict)}</span>` : ''),
    row('score', d.score === null || d.score === undefined ? '' : `${esc(d.score)} <span class="muted">(≥ 100 is malicious)</span>`),
    row('reported to the index', observationText(d)),
    row('result', esc(d.result ?? '')),
    row('findings above info', d.findings === null ? '' : esc(d.findings)),
    row('source', esc(cells[2]!.t)),
    row('repository', d.git ? `<code>${esc(d.git.repo)}</code>` : ''),
    row('branch', d.git ? `<code>${esc(d.git.branch)}</code>` : ''),
    row('commit', d.git ? `<code>${esc(d.git.commit)}</code>` : ''),
    row('backend', esc(d.backend)),
    row('priority', esc(d.priority)),
    row('attempts', `${esc(d.attempts)} of at most ${esc(d.maxAttempts)}`),
    row('slave', esc(d.slave ?? '')),
    row('submitted', esc(d.submittedAt)),
    row('started', esc(d.startedAt ?? '')),
    row('finished', esc(d.finishedAt ?? '')),
    row('time', esc(cells[10]!.t)),
    row('upload to verdict', latencyText(d)),
  ].join('')}</dl>`;
}

/** The upload-to-verdict latency with where it counts from (empty until the report is stored). */
function latencyText(d: AuditDetail): string {
  const l = d.verdictLatency;
  if (!l || l.ms === null) return '';
  const from = l.from === 'upload' ? `from the index's upload at ${esc(l.since)}` : 'from the submission; the index\'s upload time is not known';
  return `<span id="verdict-latency">${esc(durationText(l.ms))}</span> <span class="muted">(${from})</span>`;
}

function errorSection(d: AuditDetail): string {
  if (!d.error) return '';
  const attempts = d.error.attempts.length
    ? `<h3>Attempts</h3><table><tr><th>attempt</th><th>reason</th></tr>${d.error.attempts.map((a) => `<tr><td class="num">${esc(a.attempt)}</td><td><pre>${esc(a.reason)}</pre></td></tr>`).join('')}</table>`
    : '';
  return `<section><h2>Could not audit: ${esc(d.error.code)}</h2><p>${esc(d.error.message)}</p>${attempts}</section>`;
}

/** The attempt history when it says something: more than one attempt, or one that did not complete. */
function attemptLogSection(d: AuditDetail): string {
  const log = d.attemptLog ?? [];
  if (d.error || !log.length || (log.length === 1 && ['active', 'completed'].includes(log[0]!.state))) return '';
  const rows = log.map((a) => `<tr><td class="num">${esc(a.attempt)}</td><td>${esc(a.slave)}</td><td>${esc(a.state)}</td><td>${esc(a.leasedAt)}</td><td><pre>${esc(a.reason ?? '')}</pre></td></tr>`);
  return `<section><h2>Attempts</h2><table><tr><th>attempt</th><th>slave</th><th>ended</th><th>leased</th><th>reason</th></tr>${rows.join('')}</table></section>`;
}

function prefetchSection(d: AuditDetail): string {
  const p = d.prefetch;
  if (!p) return '';
  return `<section><h2>Dependencies: ${esc(p.wheels.length)} wheels, ${esc(p.downloaded)} downloaded, in ${esc((p.durationMs / 1000).toFixed(1))} s</h2>`
    + `${p.error ? `<p class="verdict-failed">pip could not resolve them:</p><pre>${esc(p.error)}</pre>` : ''}`
    + `${p.wheels.length ? `<ul>${p.wheels.map((w) => `<li><code>${esc(w)}</code></li>`).join('')}</ul>` : ''}${testRequirementsPart(p.testRequirements)}</section>`;
}

/** The test requirements prefetch resolved (with where each came from) and those it could not. */
function testRequirementsPart(t: NonNullable<AuditDetail['prefetch']>['testRequirements']): string {
  if (!t) return '';
  return `<h3>Test requirements: ${esc(t.requirements.length)} resolved${t.unresolved.length ? `, ${esc(t.unresolved.length)} unresolved` : ''}</h3>`
    + (t.unresolved.length ? `<p class="verdict-failed">not resolved (the tests do not run for want of them):</p><ul>${t.unresolved.map((u) => `<li><code>${esc(u.requirement)}</code><pre>${esc(u.reason)}</pre></li>`).join('')}</ul>` : '')
    + (t.relaxed?.length ? `<p>relaxed (the index has no matching version; resolved by name):</p><ul>${t.relaxed.map((x) => `<li><code>${esc(x.requirement)}</code> → <code>${esc(x.relaxedTo)}</code></li>`).join('')}</ul>` : '')
    + (t.requirements.length ? `<ul>${t.requirements.map((r, i) => `<li><code>${esc(r)}</code> (${esc(t.sources[i] ?? '')})</li>`).join('')}</ul>` : '');
}

function artifactsSection(d: AuditDetail): string {
  const base = `/api/v1/audits/${encodeURIComponent(d.id)}`;
  const reports = d.state === 'done' ? `<p><a href="${esc(base)}/report.json">report.json</a> · <a href="${esc(base)}/report.html">report.html</a></p>` : '';
  if (!d.artifacts.length && !reports) return '';
  const rows = d.artifacts.map((a) => {
    const href = a.pruned ? null : safeHref(a.url);
    const name = href ? `<a href="${esc(href)}">${esc(a.name)}</a>` : esc(a.name);
    return `<tr><td><code>${name}</code>${a.pruned ? ' <span class="muted">(pruned)</span>' : ''}</td><td class="num">${esc(bytes(a.sizeBytes))}</td><td><code>${esc(a.sha256.slice(0, 16))}…</code></td></tr>`;
  });
  return `<section><h2>Report and raw data (${esc(d.artifacts.length)} files)</h2>${reports}${prunedNote(d)}${rows.length ? `<table><tr><th>file</th><th class="num">size</th><th>sha256</th></tr>${rows.join('')}</table>` : ''}</section>`;
}

/** Says which raw data the retention policy deleted (the report and verdict stay). */
function prunedNote(d: AuditDetail): string {
  const p = prunedSummary(d.artifacts);
  if (!p) return '';
  const all = p.files === d.artifacts.length;
  return `<p class="muted" id="raw-pruned">${all ? 'The raw data of this audit was' : `${esc(p.files)} of its ${esc(d.artifacts.length)} raw files were`} pruned`
    + `${p.at ? ` on ${esc(p.at)}` : ''} by the retention policy (${esc(p.files)} files, ${esc(bytes(p.bytes))}): they can no longer be downloaded`
    + ` or viewed in the trace viewer. The report and its verdict stay.</p>`;
}

function eventItems(d: AuditDetail): string {
  return d.events.map((e) => `<li><span class="muted">${esc(e.at)}</span> ${esc(e.kind)}: ${esc(e.text)}</li>`).join('');
}

const LIVE_AUDIT_JS = `
(function () {
  var URL_ = __URL__, seen = __SEEN__, list = document.getElementById('events'), state = document.getElementById('live-state');
  function tick() {
    fetch(URL_, { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (d) {
        if (d.state !== 'queued' && d.state !== 'running') { location.reload(); return; }
        state.textContent = d.state + (d.slave ? ' on ' + d.slave : '') + (d.progress && d.progress.task ? ': ' + d.progress.task : d.progress && d.progress.phase ? ': ' + d.progress.phase : '');
        var ev = d.events || [], last = seen ? ev.map(function (e) { return e.at + '|' + e.kind + '|' + e.text; }).lastIndexOf(seen) : -1;
        ev.slice(last + 1).forEach(function (e) {
          var li = document.createElement('li'), at = document.createElement('span');
          at.className = 'muted'; at.textContent = e.at; li.appendChild(at); li.appendChild(document.createTextNode(' ' + e.kind + ': ' + e.text)); list.appendChild(li);
        });
        if (ev.length) { seen = ev[ev.length - 1].at + '|' + ev[ev.length - 1].kind + '|' + ev[ev.length - 1].text; list.scrollTop = list.scrollHeight; }
        setTimeout(tick, 2000);
      })
      .catch(function (e) { state.textContent += ' (live updates stopped: ' + e.message + '; reload the page)'; });
  }
  setTimeout(tick, 2000);
})();`;

const FIT_FRAME_JS = `(function () { var f = document.getElementById('report');
  function fit() { try { f.style.height = (f.contentDocument.documentElement.scrollHeight + 24) + 'px'; } catch (e) { /* keep 85vh */ } }
  f.addEventListener('load', fit); fit(); })();`;

function progressSection(d: AuditDetail, nonce: string): string {
  const live = isLive(d);
  const now = live ? `<p><b id="live-state">${esc(d.state)}${d.slave ? ` on ${esc(d.slave)}` : ''}${d.progress?.task ? `: ${esc(d.progress.task)}` : d.progress?.phase ? `: ${esc(d.progress.phase)}` : ''}</b></p>` : '';
  if (!live && !d.events.length) return '';
  const list = `<ol class="events" id="events">${eventItems(d)}</ol>`;
  if (!live) return `<section><details><summary>Progress log (${esc(d.events.length)} events)</summary>${list}</details></section>`;
  const last = d.events.at(-1);
  const script = LIVE_AUDIT_JS.replace('__URL__', scriptJson(`/api/v1/audits/${encodeURIComponent(d.id)}`))
    .replace('__SEEN__', scriptJson(last ? `${last.at}|${last.kind}|${last.text}` : ''));
  return `<section><h2>Progress</h2>${now}${list}</section>${inlineScript(script, nonce, 'pyti-live')}`;
}

/**
 * The report's own `<style>` elements get the nonce: a srcdoc frame inherits this page's policy.
 * Only renderHtml's literal `<style>` tags match (report text is escaped, so it has no `<`).
 */
function withStyleNonce(reportHtml: string, nonce: string): string {
  return reportHtml.replaceAll('<style>', `<style nonce="${esc(nonce)}">`);
}

function reportSection(d: AuditDetail, reportHtml: string | null, nonce: string, unavailable: string | null, judgement: string | null): string {
  if (d.state !== 'done') return '';
  if (reportHtml === null) return `<section><h2>Report</h2><p class="muted" id="report-unavailable">The report is not available: ${esc(unavailable ?? 'no reason was given')}.</p></section>`;
  const note = judgement ? `<p class="muted" id="master-judgement">The master decided the result from the tasks in the report: ${esc(judgement)}.</p>` : '';
  return `${note}<iframe id="report" class="report" title="audit report" sandbox="allow-same-origin allow-top-navigation-by-user-activation" srcdoc="${esc(withStyleNonce(reportHtml, nonce))}"></iframe>${inlineScript(FIT_FRAME_JS, nonce)}`;
}

/**
 * The page of one audit: a complete HTML document (`reportHtml`: renderHtml's page, when done; else
 * `unavailable` says why; `judgement`: what the master changed in the slave's result).
 * `nonce`: the response's CSP nonce (its scripts and the report's stylesheet need it).
 * `panels`: more sections before the report, already escaped HTML (project history, metadata, trace links).
 */
export function renderAuditPage(detail: AuditDetail, reportHtml: string | null, nonce = '', unavailable: string | null = null, judgement: string | null = null, panels = ''): string {
  const d = detail;
  const label = d.verdict ? d.verdict.toUpperCase() : d.state.toUpperCase();
  const body = `<header class="tone-${auditTone(d)}"><p><a href="/">← all audits</a></p><h1>${esc(d.project)} ${esc(d.version)} — ${esc(label)}</h1>`
    + `<p>audit <code>${esc(d.id)}</code>${d.result ? ` · result <b>${esc(d.result)}</b>` : ''}</p></header><main>`
    + `<section>${facts(d)}</section>${errorSection(d)}${attemptLogSection(d)}${progressSection(d, nonce)}${prefetchSection(d)}${panels}${artifactsSection(d)}${reportSection(d, reportHtml, nonce, unavailable, judgement)}</main>`;
  return pageShell(`PyTI: ${d.project} ${d.version} — ${label.toLowerCase()}`, body, isLive(d) ? NOSCRIPT_REFRESH : '');
}
