/**
 * Renders a stored report for the audit page, or says why it cannot: no stored report, a report
 * that is not JSON, or renderHtml failing on it (reports stored before the master checked that a
 * report renders). `links`: where its evidence and raw files point (the master's own routes). The reason is shown on the page (escaped), never swallowed.
 */
import { renderHtml, type AuditReport, type ReportLinks } from '@pyti/common';

/** What the master changed in the slave's report (see rpc/report-consistency.ts), for the page. */
export function masterJudgementOf(report: unknown): string | null {
  const j = (report as { masterJudgement?: { reason?: unknown } } | null)?.masterJudgement;
  return typeof j?.reason === 'string' ? j.reason.slice(0, 500) : null;
}

/** The report's HTML (and what the master changed in it), or null and the reason. */
export function renderReportOrReason(json: string | null, links: ReportLinks = {}): { html: string; reason: null; judgement: string | null } | { html: null; reason: string; judgement: null } {
  if (json === null) return { html: null, reason: 'the master has no stored report for this audit', judgement: null };
  let report: unknown;
  try {
    report = JSON.parse(json);
  } catch (err) {
    return { html: null, reason: `the stored report is not valid JSON: ${(err as Error).message}`, judgement: null };
  }
  try {
    return { html: renderHtml(report as AuditReport, links), reason: null, judgement: masterJudgementOf(report) };
  } catch (err) {
    return { html: null, reason: `the stored report cannot be rendered: ${String((err as Error)?.message ?? err).slice(0, 500)}`, judgement: null };
  }
}
