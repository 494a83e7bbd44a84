/**
 * The part of an audit's page that places it in its project's history: a link to the project page,
 * to the previous release's audit and to the previous audit of the same file (see ProjectHistory for
 * how they are chosen), each with a link to the diff; and for a flagged audit (malicious or
 * suspicious) a "New since <previous version>" list — what is new compared with the previous release
 * (debci's regression against the previous version), linking to the full diff.
 */
import { esc } from '@pyti/common';
import { projectKey } from '../db/migration-project-key.js';
import type { AuditDiff } from '../diff/audit-diff-types.js';
import type { AuditHistoryLinks, AuditRef } from '../projects/project-history.js';
import type { AuditSummary } from '../user-api.js';
import { diffHref } from './project-page.js';

/** Whether an audit's verdict is flagged (malicious, suspicious, or older reports' flagged). */
export function isFlagged(a: Pick<AuditSummary, 'verdict'>): boolean {
  return a.verdict === 'malicious' || a.verdict === 'suspicious' || a.verdict === 'flagged';
}

function refLink(key: string, r: AuditRef, thisId: string, done: boolean): string {
  return `<a href="/audits/${esc(encodeURIComponent(r.id))}">${esc(r.version)}</a> <span class="muted">(<code>${esc(r.id)}</code>${r.verdict ? `, ${esc(r.verdict)}` : ''})</span>`
    + (done ? ` · <a class="diff-link" href="${esc(diffHref(key, r.id, thisId))}">what changed</a>` : '');
}

/** The history section of an audit page (empty for an audit with no project history to show). */
export function auditHistorySection(a: AuditSummary, links: AuditHistoryLinks | null, newSince: AuditDiff | null): string {
  const key = projectKey(a.project);
  const done = a.state === 'done';
  const rows = [`<dt>project</dt><dd><a href="/projects/${esc(encodeURIComponent(key))}">every audit of ${esc(a.project)}</a></dd>`];
  if (links?.previousRelease) rows.push(`<dt>previous release</dt><dd>${refLink(key, links.previousRelease, a.id, done)}</dd>`);
  if (links?.previousOfSameRelease) rows.push(`<dt>previous audit of this file</dt><dd>${refLink(key, links.previousOfSameRelease, a.id, done)}</dd>`);
  let section = `<section class="history"><h2>History</h2><dl class="facts">${rows.join('')}</dl></section>`;
  if (newSince && links?.previousRelease && isFlagged(a)) {
    const items = newSince.highlights.slice(0, 12);
    section += `<section class="new-since"><h2>New since ${esc(links.previousRelease.version)}</h2>`
      + (items.length ? `<ul class="highlights">${items.map((h) => `<li>${esc(h)}</li>`).join('')}</ul>` : `<p>Nothing PyTI observes changed since ${esc(links.previousRelease.version)}: the same findings were there before.</p>`)
      + `<p><a class="diff-link" href="${esc(diffHref(key, links.previousRelease.id, a.id))}">the full diff with ${esc(links.previousRelease.version)}</a></p></section>`;
  }
  return section;
}
