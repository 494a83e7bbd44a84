/**
 * Sets a report's verdict, score, score reasons, highest severity and (for a malicious verdict) the
 * observation for the index, from its findings and result. Used by buildReport, rescoreReport and
 * the master (which never trusts a slave's verdict and recomputes it from the findings).
 */
import { judge } from '../findings/judge.js';
import type { AuditReport } from './audit-report.js';
import { observationFor } from './observation.js';

/** Judges `report` in place from `report.findings` and `report.result`, and returns it. */
export function applyJudgement<R extends Pick<AuditReport, 'findings' | 'result' | 'distribution'> & Partial<AuditReport>>(report: R): R {
  const findings = Array.isArray(report.findings) ? report.findings : [];
  const j = judge(findings, typeof report.result === 'string' ? report.result : 'error:sandbox-protocol');
  report.verdict = j.verdict;
  report.score = j.score;
  report.scoreReasons = j.reasons;
  report.maxSeverity = j.reasons[0]?.severity ?? findings.find((f) => f.severity === 'info')?.severity;
  if (j.verdict === 'malicious') report.observation = observationFor(report.distribution, j.score, j.reasons);
  else delete report.observation;
  return report;
}
