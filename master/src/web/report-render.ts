/**
 * Renders a stored report for the audit page, or says why it cannot: no stored report, a report
 * that is not JSON, or renderHtml failing on it (reports stored before the master checked that a
 * report renders). The reason is shown on the page (escaped), never swallowed.
 */
import { renderHtml, type AuditReport } from '@pyti/slave';

/** The report's HTML, or null and the reason. */
export function renderReportOrReason(json: string | null): { html: string; reason: null } | { html: null; reason: string } {
  if (json === null) return { html: null, reason: 'the master has no stored report for this audit' };
  let report: unknown;
  try {
    report = JSON.parse(json);
  } catch (err) {
    return { html: null, reason: `the stored report is not valid JSON: ${(err as Error).message}` };
  }
  try {
    return { html: renderHtml(report as AuditReport), reason: null };
  } catch (err) {
    return { html: null, reason: `the stored report cannot be rendered: ${String((err as Error)?.message ?? err).slice(0, 500)}` };
  }
}
