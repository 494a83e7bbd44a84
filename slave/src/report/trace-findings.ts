/**
 * Raw traces → trace summaries and dynamic findings: the one place that parses a job's phase traces
 * and runs the rules over them, shared by buildReport (a fresh audit) and rescoreReport (stored raw
 * data re-judged by the current rules). Every raw file came out of a sandbox: parsed defensively.
 */
import { parseStrace } from '../trace/strace-parser.js';
import { summarizeTrace } from '../trace/process-tree.js';
import { findingsFor, type RuleContext } from '../findings/rules.js';
import { PHASES, SEVERITY_ORDER, type Finding, type Phase } from '../findings/finding.js';
import type { AuditReport } from './audit-report.js';

/** Looks up one raw file of one task (undefined when the task left no such file). */
export type RawLookup = (task: string, name: string) => Buffer | undefined;

/** Where each phase's strace file is among the raw data: [task, file]. */
export const PHASE_TRACES: Readonly<Record<Phase, readonly [string, string]>> = {
  build: ['build', 'build.strace'],
  install: ['install', 'install.strace'],
  import: ['import', 'import.strace'],
  execute: ['execute', 'execute.strace'],
};

/** The guest paths the rules use when the guest did not say (its defaults). */
export const DEFAULT_GUEST_PATHS: RuleContext = { home: '/home/pyti', work: '/work', tmp: '/tmp' };

export interface TraceAnalysis {
  traces: AuditReport['traces'];
  /** Dynamic findings, most severe first. */
  findings: Finding[];
}

/** Parses every phase trace present in `raw` and runs the rules over each. */
export function analyzeTraces(raw: RawLookup, paths: RuleContext = DEFAULT_GUEST_PATHS): TraceAnalysis {
  const traces: AuditReport['traces'] = {};
  const findings: Finding[] = [];
  for (const phase of PHASES) {
    const [task, file] = PHASE_TRACES[phase];
    const buf = raw(task, file);
    if (!buf) continue;
    const { events, stats } = parseStrace(buf);
    traces[phase] = { ...summarizeTrace(events), stats: { lines: stats.lines, bytes: stats.bytes, unparsed: stats.unparsed } };
    findings.push(...findingsFor(events, phase, { home: paths.home, work: paths.work, tmp: paths.tmp }));
  }
  return { traces, findings: sortFindings(findings) };
}

/** Most severe first (stable among equals). */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort((a, b) => SEVERITY_ORDER.indexOf(b.severity) - SEVERITY_ORDER.indexOf(a.severity));
}
