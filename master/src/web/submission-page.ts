/**
 * `/submissions/<id>`: a submission's audits (one per project of a zip, or the one-off git audit)
 * with the entry each came from and their states. No scripts; refreshes itself while any audit is
 * queued or running. Every value is escaped.
 */
import { esc } from '@pyti/common';
import type { SubmissionView } from '../submissions/submission-store.js';
import { AUDIT_COLUMNS } from './audit-row-model.js';
import { auditRowHtml, isLive } from './audit-list-page.js';
import { pageShell } from './page-shell.js';

/** The page. */
export function renderSubmissionPage(s: SubmissionView, nowMs = Date.now()): string {
  const c = s.counts;
  const live = s.audits.some((a) => isLive(a.audit));
  const rows = s.audits.map((a) => auditRowHtml(a.audit, nowMs).replace('<tr ', `<tr data-entry="${esc(a.entry)}" `)
    .replace('</tr>', `<td class="muted">${esc(a.entry)}</td></tr>`)).join('\n');
  const table = `<table><thead><tr>${AUDIT_COLUMNS.map((h) => `<th>${esc(h)}</th>`).join('')}<th>entry</th></tr></thead><tbody id="audits">${rows}</tbody></table>`;
  const title = `Submission ${s.id}`;
  const body = `<header><h1>${esc(title)}</h1><p>${esc(s.kind === 'zip' ? `zip ${s.name}` : `git ${s.name}`)} · ${c.total} audits: `
    + `${c.queued} queued · ${c.running} running · ${c.done} done · ${c.error} error · ${c.cancelled} cancelled · submitted ${esc(s.createdAt)}`
    + ' · <a href="/">audits</a></p></header>'
    + `<main><section>${table}</section></main>`;
  return pageShell(`PyTI ${title}`, body, live ? '<meta http-equiv="refresh" content="5">' : '');
}
