/**
 * Re-judges a stored report with the current rules: its phase traces are parsed again from the raw
 * data kept beside it, the rules re-run (the static ones too, when a fresh static scan is given),
 * and verdict and score recomputed. The result category, tasks and everything else stay as stored.
 * Findings that neither the traces nor the static scan give (none today) are dropped.
 */
import type { AuditReport } from './audit-report.js';
import { analyzeTraces, DEFAULT_GUEST_PATHS, sortFindings } from './trace-findings.js';
import { parseReportBait } from '../bait/index.js';
import type { SinkholeRecord } from '../sinkhole/sinkhole-record.js';
import { applyJudgement } from './apply-judgement.js';
import type { StaticScanSummary } from './static-scan.js';

/** Raw data of one job: task → file name → bytes. */
export type RawData = Map<string, Map<string, Buffer>>;

/**
 * A copy of `report` re-judged from `raw` (and `staticScan`, which replaces the stored static
 * findings; without it they are kept). A phase whose trace is in `raw` gets its summary and findings
 * anew; a phase whose trace is not keeps what was stored.
 */
export function rescoreReport(report: AuditReport, raw: RawData, staticScan?: StaticScanSummary): AuditReport {
  const out = structuredClone(report);
  const stored = Array.isArray(out.findings) ? out.findings : [];
  const paths = out.guest?.paths ?? DEFAULT_GUEST_PATHS;
  // The stored bait and sinkhole records let the canary and chain rules run again.
  const analysis = analyzeTraces((task, name) => raw.get(task)?.get(name), paths, {
    bait: parseReportBait(out.bait), sinkhole: storedNetwork(out),
  });
  const reparsed = new Set(Object.keys(analysis.traces));
  const keptDynamic = stored.filter((f) => f.phase !== 'static' && !reparsed.has(f.phase));
  const staticFindings = staticScan ? staticScan.findings : stored.filter((f) => f.phase === 'static');
  out.traces = { ...out.traces, ...analysis.traces };
  out.findings = sortFindings([...analysis.findings, ...keptDynamic, ...staticFindings]);
  if (staticScan) out.static = { files: staticScan.files, bytes: staticScan.bytes, truncated: staticScan.truncated };
  return applyJudgement(out);
}

/** The sinkhole records a stored report kept (`network`), if any (the canary rule reads them defensively). */
function storedNetwork(report: AuditReport): SinkholeRecord[] | undefined {
  const n = (report as { network?: unknown }).network;
  return Array.isArray(n) ? (n as SinkholeRecord[]).slice(0, 5000) : undefined;
}
