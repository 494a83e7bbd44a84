/**
 * The release diff as HTML (`GET /projects/:name/diff?from=A&to=B`): what is new and gone between two
 * audits, section by section. Every string comes from slave reports: escaped with `esc`; links are
 * built from audit ids with encodeURIComponent. No scripts.
 */
import { esc } from '@pyti/common';
import type { AuditDiff, Change, DiffFinding, PhaseItem, SetDiff } from '../diff/audit-diff-types.js';
import { pageShell } from './page-shell.js';

const auditLink = (id: string | undefined, text: string): string => (id ? `<a href="/audits/${esc(encodeURIComponent(id))}">${esc(text)}</a>` : esc(text));

function list<T>(title: string, s: SetDiff<T>, item: (t: T) => string): string {
  if (!s.added.length && !s.removed.length) return '';
  const more = (n: number | undefined): string => (n ? `<li class="muted">… and ${esc(n)} more</li>` : '');
  const part = (label: string, cls: string, items: T[], omitted?: number): string => (items.length
    ? `<h3 class="${cls}">${esc(label)} (${esc(items.length + (omitted ?? 0))})</h3><ul class="${cls}">${items.map((t) => `<li>${item(t)}</li>`).join('')}${more(omitted)}</ul>` : '');
  return `<section class="diff-part"><h2>${esc(title)}</h2>${part('new', 'diff-added', s.added, s.omitted?.added)}${part('gone', 'diff-removed', s.removed, s.omitted?.removed)}</section>`;
}

const phaseItem = (i: PhaseItem): string => `<span class="muted">${esc(i.phase)}</span> <code>${esc(i.text)}</code>`;
const findingItem = (f: DiffFinding): string => `<span class="sev-${esc(f.severity)}">${esc(f.severity.toUpperCase())}</span> <code>${esc(f.rule)}</code> `
  + `<span class="muted">${esc(f.phase)}</span> ${esc(f.title)}${f.evidence.length ? `<br><span class="muted">${f.evidence.slice(0, 3).map((e) => esc(e)).join(' · ')}</span>` : ''}`;

function changeRow<T>(label: string, c: Change<T>, unit = ''): string {
  const v = (x: T | null): string => (x === null ? '—' : `${esc(x)}${unit}`);
  return `<tr${c.changed ? ' class="diff-changed"' : ''}><th>${esc(label)}</th><td>${v(c.from)}</td><td>${v(c.to)}</td></tr>`;
}

function testsPart(d: AuditDiff): string {
  const t = d.tests;
  const counts = (c: AuditDiff['tests']['from']): string => (c ? `${esc(c.passed)} passed, ${esc(c.failed + c.errors)} failing, ${esc(c.skipped)} skipped of ${esc(c.total)}${c.status && c.status !== 'ran' ? ` (${esc(c.status)})` : ''}` : 'not run');
  const ul = (label: string, cls: string, ids: string[]): string => (ids.length ? `<h3 class="${cls}">${esc(label)} (${esc(ids.length)})</h3><ul class="${cls}">${ids.map((i) => `<li><code>${esc(i)}</code></li>`).join('')}</ul>` : '');
  return `<section class="diff-part"><h2>Tests</h2><p>${counts(t.from)} → ${counts(t.to)}${t.stillFailing ? ` · ${esc(t.stillFailing)} still failing` : ''}</p>`
    + `${ul('new failures', 'diff-added', t.newFailures)}${ul('fixed', 'diff-fixed', t.fixed)}${ul('new tests', 'diff-neutral', t.added)}${ul('removed tests', 'diff-neutral', t.removed)}</section>`;
}

/** The diff's sections (without the page around them). */
export function diffSectionsHtml(d: AuditDiff): string {
  const summary = `<section><h2>Summary</h2>${d.highlights.length ? `<ul class="highlights">${d.highlights.map((h) => `<li>${esc(h)}</li>`).join('')}</ul>` : '<p>Nothing changed that PyTI observes.</p>'}`
    + `<table class="diff-facts"><tr><th></th><th>${auditLink(d.from.auditId, `${d.from.version} (${d.from.filename})`)}</th><th>${auditLink(d.to.auditId, `${d.to.version} (${d.to.filename})`)}</th></tr>`
    + `${changeRow('verdict', d.verdict)}${changeRow('result', d.result)}${changeRow('score', d.score)}${changeRow('coverage', d.coverage, '%')}`
    + `${changeRow('pylint score', d.lint.score)}${changeRow('style violations', d.lint.style)}`
    + `${d.lint.counts.map((c) => changeRow(`pylint ${c.type}`, { from: c.from, to: c.to, changed: true })).join('')}</table></section>`;
  const deps = d.dependencies;
  const depsChanged = deps.changed.length
    ? `<section class="diff-part"><h2>Dependency versions</h2><ul>${deps.changed.map((c) => `<li><code>${esc(c.name)}</code> ${esc(c.from)} → ${esc(c.to)}</li>`).join('')}</ul></section>` : '';
  return summary
    + list('Findings', d.findings, findingItem)
    + list('Network targets', d.network, phaseItem)
    + list('DNS names looked up', d.dns, phaseItem)
    + (d.sinkhole ? list('Sinkhole traffic', d.sinkhole, phaseItem) : '')
    + list('Files written outside the install', d.files, phaseItem)
    + list('Commands run', d.processes, phaseItem)
    + list('Declared dependencies (Requires-Dist)', deps.declared, (s) => `<code>${esc(s)}</code>`)
    + list('Installed dependencies', deps.installed, (p) => `<code>${esc(p.name)} ${esc(p.version)}</code>`)
    + depsChanged
    + testsPart(d);
}

/** The diff page of a project: a complete HTML document. `projectKey` is the normalized project name. */
export function renderDiffPage(projectKey: string, d: AuditDiff): string {
  const title = `${d.to.project || projectKey}: ${d.from.version} → ${d.to.version}`;
  const body = `<header class="tone-${d.findings.added.length ? 'orange' : 'neutral'}"><p><a href="/">← all audits</a> · <a href="/projects/${esc(encodeURIComponent(projectKey))}">${esc(projectKey)}</a></p>`
    + `<h1>${esc(title)}</h1><p>what changed from audit ${auditLink(d.from.auditId, d.from.auditId ?? '')} to ${auditLink(d.to.auditId, d.to.auditId ?? '')}`
    + ` · <a href="/api/v1/diff?from=${esc(encodeURIComponent(d.from.auditId ?? ''))}&amp;to=${esc(encodeURIComponent(d.to.auditId ?? ''))}">JSON</a></p></header>`
    + `<main>${diffSectionsHtml(d)}</main>`;
  return pageShell(`PyTI: ${title}`, body);
}
