/**
 * The page of one project (`GET /projects/:name`): its name and summary from its newest stored report,
 * every release audited (newest version first) with each of its audits (file, source, verdict, result,
 * findings, score) as a timeline, links from each release to its diff with the release before, and a
 * form (GET) to diff any two of its finished audits. No scripts; every string escaped.
 */
import { esc } from '@pyti/common';
import { compareVersions, isValidVersion } from '../feeds/pep.js';
import type { ProjectMetadata } from '../projects/project-history.js';
import type { AuditSummary } from '../user-api.js';
import { auditCells, auditTone } from './audit-row-model.js';
import { pageShell } from './page-shell.js';

/** One release of a project and its audits (newest first). */
export interface ReleaseGroup {
  version: string;
  audits: AuditSummary[];
  /** The newest finished audit of this release, and of the release before it (for the diff link). */
  latestDone: AuditSummary | null;
  previousDone: AuditSummary | null;
  previousVersion: string | null;
}

/** Groups a project's audits by release, newest release first (PEP 440 order; submission order when a version is not PEP 440, as git commits). */
export function releaseGroups(audits: AuditSummary[]): ReleaseGroup[] {
  const byVersion = new Map<string, AuditSummary[]>();
  for (const a of audits) byVersion.set(a.version, [...(byVersion.get(a.version) ?? []), a]);
  const versions = [...byVersion.keys()];
  const allValid = versions.every(isValidVersion);
  // `audits` is newest first: the insertion order of the map is newest-submitted first.
  if (allValid) versions.sort((x, y) => compareVersions(y, x));
  const groups = versions.map((version) => {
    const list = byVersion.get(version)!;
    return { version, audits: list, latestDone: list.find((a) => a.state === 'done') ?? null, previousDone: null as AuditSummary | null, previousVersion: null as string | null };
  });
  for (let i = 0; i < groups.length; i++) {
    const prev = groups.slice(i + 1).find((g) => g.latestDone);
    if (prev) {
      groups[i]!.previousDone = prev.latestDone;
      groups[i]!.previousVersion = prev.version;
    }
  }
  return groups;
}

/** The link to the diff page of a project between two audits. */
export function diffHref(projectKey: string, fromId: string, toId: string): string {
  return `/projects/${encodeURIComponent(projectKey)}/diff?from=${encodeURIComponent(fromId)}&to=${encodeURIComponent(toId)}`;
}

function auditRow(a: AuditSummary): string {
  const c = auditCells(a);
  const file = a.filename ?? '';
  return `<tr class="tone-${auditTone(a)}"><td>${esc(c[9]!.t)}</td><td><a href="/audits/${esc(encodeURIComponent(a.id))}"><code>${esc(a.id)}</code></a></td>`
    + `<td>${esc(file || c[2]!.t)}</td><td class="${esc(c[4]!.c ?? '')}">${esc(c[4]!.t)}</td><td class="${esc(c[5]!.c ?? '')}">${esc(c[5]!.t)}</td>`
    + `<td>${esc(c[6]!.t)}</td><td class="num">${esc(c[7]!.t)}</td><td>${esc(a.backend)}</td></tr>`;
}

function releaseSection(key: string, g: ReleaseGroup): string {
  const diff = g.latestDone && g.previousDone
    ? ` <a class="diff-link" href="${esc(diffHref(key, g.previousDone.id, g.latestDone.id))}">what changed since ${esc(g.previousVersion)}</a>` : '';
  const verdict = g.latestDone?.verdict ? ` · <span class="verdict-${esc(g.latestDone.verdict)}">${esc(g.latestDone.verdict)}</span>` : '';
  return `<section class="release" id="release-${esc(encodeURIComponent(g.version))}"><h2>${esc(g.version)}${verdict} <span class="muted">(${esc(g.audits.length)} audit${g.audits.length === 1 ? '' : 's'})</span>${diff}</h2>`
    + `<table><thead><tr><th>submitted</th><th>audit</th><th>file</th><th>state</th><th>verdict</th><th>result</th><th class="num">findings</th><th>backend</th></tr></thead>`
    + `<tbody>${g.audits.map(auditRow).join('')}</tbody></table></section>`;
}

function diffForm(key: string, audits: AuditSummary[], groups: ReleaseGroup[]): string {
  const done = audits.filter((a) => a.state === 'done');
  if (done.length < 2) return '';
  const to = groups.find((g) => g.latestDone)?.latestDone ?? done[0]!;
  const from = groups.find((g) => g.latestDone)?.previousDone ?? done[1]!;
  const options = (sel: string): string => done.map((a) => `<option value="${esc(a.id)}"${a.id === sel ? ' selected' : ''}>${esc(`${a.version} · ${a.filename ?? a.source} · ${a.verdict ?? ''} · ${a.id}`)}</option>`).join('');
  return `<section><h2>Compare two audits</h2><form class="filters" method="get" action="/projects/${esc(encodeURIComponent(key))}/diff">`
    + `<label>from<select name="from">${options(from.id)}</select></label><label>to<select name="to">${options(to.id)}</select></label><button type="submit">diff</button></form></section>`;
}

/** The project page: a complete HTML document. `key` is the normalized name; `audits` newest first. */
export function renderProjectPage(key: string, meta: ProjectMetadata | null, audits: AuditSummary[], total: number, panels = ''): string {
  const groups = releaseGroups(audits);
  const name = meta?.name ?? audits[0]?.project ?? key;
  const latest = groups[0];
  const tone = latest?.latestDone ? auditTone(latest.latestDone) : 'neutral';
  const header = `<header class="tone-${tone}"><p><a href="/">← all audits</a> · <a href="/?project=${esc(encodeURIComponent(key))}">in the audit list</a> · <a href="/api/v1/projects/${esc(encodeURIComponent(key))}">JSON</a></p>`
    + `<h1>${esc(name)}</h1>${meta?.summary ? `<p class="summary">${esc(meta.summary)}</p>` : ''}`
    + `<p>${esc(groups.length)} release${groups.length === 1 ? '' : 's'} · ${esc(total)} audit${total === 1 ? '' : 's'}${total > audits.length ? ` (newest ${esc(audits.length)} shown)` : ''}`
    + `${meta?.version ? ` · latest report: ${esc(meta.version)}` : ''}</p></header>`;
  const body = audits.length
    ? `${diffForm(key, audits, groups)}${groups.map((g) => releaseSection(key, g)).join('')}`
    : `<section><p class="muted">No audits of ${esc(key)} yet.</p></section>`;
  // `panels`: more sections before the releases, already escaped HTML (the project's PEP 792 status).
  return pageShell(`PyTI: ${name}`, `${header}<main>${panels}${body}</main>`);
}
