/**
 * How a report rendered by the master links its evidence: raw lines to `/audits/<id>/raw/<file>?line=N`
 * (the line highlighted in escaped context) and each phase to the trace viewer, `/audits/<id>/trace`.
 * In the audit page the report sits in a sandboxed frame: its links then target the top window.
 */
import type { ReportLinks } from '@pyti/common';
import { rawLineHref } from './trace-page.js';

/** The links of audit `id`'s report (`inFrame`: shown inside the audit page's frame). */
export function masterReportLinks(id: string, inFrame: boolean): ReportLinks {
  const audit = `/audits/${encodeURIComponent(id)}`;
  return {
    rawLine: (file, line) => rawLineHref(id, file, line),
    traceViewer: (phase, kind, owner) => `${audit}/trace?${new URLSearchParams({ phase, kind, owner }).toString()}`,
    ...(inFrame ? { target: '_top' } : {}),
  };
}
