/**
 * Renders an audit report as one self-contained HTML page (no scripts, no external resources):
 * verdict banner (verdict, score, top reasons), tasks with status and timings, tests with tracebacks, lint, the install trace (process
 * tree, file table, network) and findings with their evidence. All report text is escaped.
 */
import type { AuditReport } from './audit-report.js';
import { esc } from './html-escape.js';
import { testsHtmlSections } from './render-tests.js';
import { reachSection } from './render-reach.js';
import { networkSection } from '../sinkhole/render-network.js';
import { traceSections, type ReportLinks } from './render-trace.js';
import { findingsSection } from './render-findings.js';
import { coverageSection, coverageTaskStatus } from './render-coverage.js';

export type { ReportLinks } from './render-trace.js';

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1f21;background:#f6f7f9}
header{padding:18px 28px;color:#fff}header h1{margin:0;font-size:22px}header p{margin:4px 0 0}
.clean{background:#1e7a3c}.flagged,.suspicious{background:#c2410c}.malicious{background:#8b0f0f}.failed{background:#7a5b1e}.error{background:#5b5f66}
.banner{margin:10px 0 0;padding:8px 12px;background:rgba(0,0,0,.18);border-radius:4px}.banner ol{margin:4px 0 0;padding-left:20px}
main{padding:8px 28px 40px;max-width:1200px}section{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:16px 0;padding:12px 16px}
h2{font-size:17px;margin:4px 0 10px}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eceff3;padding:4px 8px;text-align:left;vertical-align:top}
th{font-weight:600;background:#fafbfc}code,pre{font:12px/1.4 ui-monospace,monospace}pre{background:#f3f4f6;padding:8px;overflow:auto;max-height:420px;white-space:pre-wrap}
.s-pass{color:#1e7a3c;font-weight:600}.s-fail,.s-error,.s-timeout,.s-oom,.s-limit{color:#b3261e;font-weight:600}.s-skipped{color:#6b7280}
.sev-critical,.sev-high{color:#b3261e;font-weight:700}.sev-medium{color:#b35c00;font-weight:600}.sev-low,.sev-info{color:#4b5563}
.tree ul{list-style:none;padding-left:18px;margin:0}.muted{color:#6b7280}.num{text-align:right}
.owner-package{color:#1d4ed8;font-weight:600}.owner-tooling{color:#6b7280}`;

const ms = (v?: number): string => (v === undefined ? '' : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v} ms`);
const mb = (v?: number): string => (v === undefined ? '' : `${(v / 1048576).toFixed(1)} MiB`);

/** The verdict banner: verdict, score and the rules that earned it. */
function banner(r: AuditReport): string {
  const reasons = Array.isArray(r.scoreReasons) ? r.scoreReasons.slice(0, 5) : [];
  return `<div class="banner"><b>${esc(String(r.verdict).toUpperCase())}</b> · score <b>${esc(r.score ?? 0)}</b>${reasons.length ? ` (≥ 100 is malicious)<ol>${reasons.map((x) =>
    `<li><b>${esc(x.severity)}</b> +${esc(x.points)} ${esc(x.title)} <code>${esc(x.rule)}</code></li>`).join('')}</ol>` : ' · no finding earned points'}</div>`;
}

/** A link only for http(s) URLs (a `javascript:` URL in metadata must not become one); text otherwise. */
function safeLink(url: string, text: string = url): string {
  return /^https?:\/\/[^\s]+$/i.test(url) ? `<a href="${esc(url)}" rel="nofollow noreferrer noopener">${esc(text)}</a>` : `<code>${esc(url)}</code>`;
}

/** The distribution's core metadata and how it was built: every value escaped, the description as text. */
function distributionSection(r: AuditReport): string {
  const d = r.distribution;
  const row = (k: string, v: string | undefined): string => (v ? `<tr><th>${esc(k)}</th><td>${v}</td></tr>` : '');
  const person = (name?: string, email?: string): string | undefined => (name || email ? `${esc(name ?? '')}${email ? ` <code>${esc(email)}</code>` : ''}` : undefined);
  const b = r.build;
  const rows = [
    row('summary', d.summary && esc(d.summary)),
    row('author', person(d.author, d.authorEmail)),
    row('maintainer', person(d.maintainer, d.maintainerEmail)),
    row('licence', d.licenseExpression ? `<code>${esc(d.licenseExpression)}</code>` : d.license && (d.license.length > 200 || d.license.includes('\n') ? `<details><summary>${esc(d.license.split('\n')[0]!.slice(0, 120))}</summary><pre>${esc(d.license)}</pre></details>` : esc(d.license))),
    row('home page', d.homePage && safeLink(d.homePage)),
    row('download URL', d.downloadUrl && safeLink(d.downloadUrl)),
    row('project URLs', d.projectUrls?.length ? d.projectUrls.map((u) => `${esc(u.label)}${u.label ? ': ' : ''}${safeLink(u.url)}`).join('<br>') : undefined),
    row('keywords', d.keywords?.length ? d.keywords.map((k) => esc(k)).join(', ') : undefined),
    row('requires Python', d.requiresPython && `<code>${esc(d.requiresPython)}</code>`),
    row('requires', d.requiresDist.length ? d.requiresDist.map((x) => `<code>${esc(x)}</code>`).join('<br>') : undefined),
    row('extras', d.providesExtra?.length ? d.providesExtra.map((x) => `<code>${esc(x)}</code>`).join(', ') : undefined),
    row('classifiers', d.classifiers?.length ? d.classifiers.map((x) => esc(x)).join('<br>') : undefined),
    row('metadata', d.metadataVersion && `version ${esc(d.metadataVersion)}`),
    row('build', b && `${esc(b.mode ?? '')}${b.backend ? `, backend <code>${esc(b.backend)}</code>${b.backendDistribution ? ` (${esc(b.backendDistribution)})` : ''}` : ''}${b.wheel ? `, wheel <code>${esc(b.wheel)}</code>` : ''}${buildEnvText(b.environment)}${buildViewText(b.view)}`),
    row('missing toolchain', b?.missingToolchain?.length ? `<b>${b.missingToolchain.map((x) => esc(x)).join(', ')}</b> (not in the image)` : undefined),
    row('missing build requirements', b?.missingBuildRequirements?.length ? b.missingBuildRequirements.map((x) => `<code>${esc(x)}</code>`).join(', ') : undefined),
    row('install', installText(r.install)),
  ].join('');
  const desc = d.description
    ? `<details><summary>description${d.descriptionContentType ? ` (${esc(d.descriptionContentType)})` : ''}${d.descriptionTruncated ? ', truncated' : ''}</summary><pre>${esc(d.description)}</pre></details>`
    : '';
  return `<section><h2>Distribution</h2><table>${rows}</table>${desc}</section>`;
}

/** How the install task installed (the host's plan with installer, or pip and why), for the install row (escaped). */
function installText(i: AuditReport['install']): string | undefined {
  if (!i?.installer) return undefined;
  const how = i.installer === 'installer' ? "the host's plan, installed by installer (no resolver in the guest)" : 'pip in the guest';
  const fallback = i.resolverFallback
    ? `; pip's resolver ran for ${i.resolverFallback.requirements.map((x) => `<code>${esc(x)}</code>`).join(', ')} (${esc(i.resolverFallback.reason)})`
    : '';
  return `${how}${fallback}`;
}

/** How an isolated build's environment was made, for the build row (escaped). */
function buildEnvText(e: NonNullable<AuditReport['build']>['environment']): string {
  if (!e) return '';
  if (e.installer === 'pip') return `; build environment made by pip in the guest${e.reason ? ` (${esc(e.reason)})` : ''}`;
  return `; build environment from the host's plan (installer, no resolver)${e.resolverFallback ? `; pip installed ${e.resolverFallback.requirements.map((r) => `<code>${esc(r)}</code>`).join(', ')} that the backend asked for (${esc(e.resolverFallback.reason)})` : ''}`;
}

function buildViewText(v: NonNullable<AuditReport['build']>['view']): string {
  if (!v) return '';
  if (v.widened) return '; the build saw all of the image\'s packages (its backend needed more than its requirements)';
  return `; the build saw only ${v.distributions.map((d) => `<code>${esc(d)}</code>`).join(', ')} of the image's packages`;
}

/**
 * The report as one HTML page. `links` says how to link raw lines and the trace viewer (the
 * master's pages); by default evidence links the raw files beside the report.
 */
export function renderHtml(r: AuditReport, links: ReportLinks = {}): string {
  const d = r.distribution;
  const parts: string[] = [];
  parts.push(`<header class="${esc(r.verdict)}"><h1>${esc(d.name)} ${esc(d.version)} — ${esc(r.verdict.toUpperCase())}</h1>
<p>result <b>${esc(r.result)}</b>${r.maxSeverity ? ` · highest finding: <b>${esc(r.maxSeverity)}</b>` : ''} · ${esc(d.filename)} · sha256 <code>${esc(d.sha256.slice(0, 16))}…</code>${d.origin && d.origin.kind !== 'file' ? ` · from <code>${esc(d.origin.url ?? '')}</code> (sha256 ${d.origin.sha256Verified ? 'verified' : '<b>not verified</b>'})` : ''} · backend ${esc(r.backend.name)} (${esc(r.backend.isolation)}, network ${esc(r.backend.network)}) · ${ms(r.timings.totalMs)}</p>${banner(r)}</header><main>`);
  if (r.source?.kind === 'git') {
    const g = r.source;
    parts.push(`<section><h2>Source: git commit <code>${esc(g.commit.slice(0, 12))}</code></h2><table>`
      + `<tr><th>repository</th><td><code>${esc(g.repo)}</code></td></tr><tr><th>branch</th><td><code>${esc(g.branch)}</code></td></tr>`
      + `<tr><th>commit</th><td><code>${esc(g.commit)}</code></td></tr><tr><th>archive sha256</th><td><code>${esc(g.archiveSha256)}</code></td></tr>`
      + `<tr><th>sdist</th><td>${g.sdist ? `<code>${esc(g.sdist)}</code>, built offline in the sandbox in ${ms(g.buildMs)}` : 'the build from the commit failed'}</td></tr></table></section>`);
  }
  parts.push(distributionSection(r));
  if (r.infraError) {
    parts.push(`<section><h2>Could not audit: ${esc(r.infraError.kind)}</h2><p>${esc(r.infraError.message)}</p>${r.infraError.evidence ? `<pre>${esc(r.infraError.evidence)}</pre>` : ''}</section>`);
  }
  if (r.retried?.length) {
    parts.push(`<section><h2>Retried after ${r.retried.length === 1 ? 'an infrastructure failure' : `${r.retried.length} infrastructure failures`}</h2>${r.retried.map((a, i) =>
      `<p>attempt ${i + 1}: <b>${esc(a.infraError.kind)}</b> after ${ms(a.totalMs)}: ${esc(a.infraError.message)}</p><details><summary>its console</summary><pre>${esc(a.console)}</pre></details>`).join('')}</section>`);
  }
  parts.push(findingsSection(r, links));
  parts.push(`<section><h2>Tasks</h2><table><tr><th>task</th><th>status</th><th>reason</th><th class="num">time</th><th class="num">CPU</th><th class="num">peak memory</th><th>policy</th><th>ran in</th></tr>${r.tasks.map((t) =>
    `<tr><td><b>${esc(t.id)}</b><br><span class="muted">${esc(t.title)}</span></td>${((st) => `<td class="s-${esc(st.cls)}">${esc(st.text)}</td>`)(t.id === 'coverage' ? coverageTaskStatus(r, t.status) : { text: t.status, cls: t.status })}<td>${esc(t.reason ?? '')}</td><td class="num">${ms(t.durationMs)}</td><td class="num">${ms(t.cpuMs)}</td><td class="num">${mb(t.peakMemoryBytes)}</td><td>${esc(t.failurePolicy)}</td><td>${esc(taskWhereText(r, t.where))}</td></tr>`).join('')}</table>
${r.tasks.filter((t) => t.status !== 'pass' && t.status !== 'skipped' && t.outputTail).map((t) => `<details><summary>output of ${esc(t.id)}</summary><pre>${esc(t.outputTail)}</pre></details>`).join('')}</section>`);
  parts.push(reachSection(r));
  parts.push(networkSection(r.network));
  const testsPart = testsHtmlSections(r);
  if (testsPart) parts.push(testsPart);
  const cov = coverageSection(r);
  if (cov) parts.push(cov);
  if (r.imports) parts.push(`<section><h2>Imports</h2><table>${r.imports.map((i) => `<tr><td><code>${esc(i.module)}</code>${i.primary ? ' <span class="muted">primary</span>' : ''}</td><td class="s-${i.ok ? 'pass' : i.optional ? 'skipped' : 'fail'}">${i.ok ? 'ok' : `${i.optional ? 'optional, not the package\'s failure: ' : ''}${esc(i.error)}`}</td></tr>`).join('')}</table></section>`);
  if (r.lint) parts.push(`<section><h2>pylint: ${r.lint.score === null ? 'no score' : `${esc(r.lint.score)}/10`} · ${Object.entries(r.lint.counts).map(([k, v]) => `${esc(v)} ${esc(k)}`).join(', ') || 'no messages'}</h2><table>${r.lint.messages.slice(0, 300).map((m) => `<tr><td><code>${esc(m.path)}:${esc(m.line)}</code></td><td>${esc(m.type)}</td><td><code>${esc(m.messageId)} ${esc(m.symbol)}</code></td><td>${esc(m.message)}</td></tr>`).join('')}</table></section>`);
  if (r.style) parts.push(`<section><h2>PEP 8 (pycodestyle): ${r.style.total} violations</h2><table>${Object.entries(r.style.byCode).map(([code, v]) => `<tr><td><code>${esc(code)}</code></td><td class="num">${esc(v.count)}</td><td>${esc(v.text)}</td></tr>`).join('')}</table></section>`);
  const traces = traceSections(r, links);
  if (traces) parts.push(traces);
  if (r.static) parts.push(`<section><h2>Static scan</h2><p>${esc(r.static.files)} files, ${mb(r.static.bytes)} read${r.static.truncated ? ' · <b>stopped at its limits</b> (not every file was read)' : ''} · ${r.findings.filter((f) => f.phase === 'static').length} static findings</p></section>`);
  if (r.guest) parts.push(`<section><h2>Guest</h2><p>Python ${esc(r.guest.python)} on ${esc(r.guest.platform)}/${esc(r.guest.machine)} · ${Object.entries(r.guest.tools).map(([k, v]) => `${esc(k)} ${esc(v)}`).join(' · ')}</p></section>`);
  parts.push(`<p class="muted">PyTI ${esc(r.tool.version)} · report schema ${esc(r.schemaVersion)} · started ${esc(r.timings.startedAt)}</p></main>`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>PyTI: ${esc(d.name)} ${esc(d.version)} — ${esc(r.verdict)}</title><style>${CSS}</style></head><body>${parts.join('\n')}</body></html>`;
}

/**
 * Where a task ran, for people: the host's bubblewrap sandbox beside a VM, or the audit's own sandbox
 * (named by its backend); empty for reports that do not say.
 */
export function taskWhereText(r: Pick<AuditReport, 'backend'>, where: string | undefined): string {
  if (where === 'host-bwrap') return 'host (bwrap)';
  if (where === 'guest') return r.backend?.isolation === 'vm' ? `guest (${r.backend.name})` : String(r.backend?.name ?? '');
  return '';
}
