/** A finding: a rule's verdict on a trace, with its evidence. */

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITY_ORDER: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** The traced phases of an audit. */
export type Phase = 'build' | 'install' | 'import';

/** Points at one event of one phase's trace. */
export interface EvidenceRef {
  phase: Phase;
  seq: number;
  /** Line in that phase's raw strace file. */
  line: number;
  pid: number;
  /** One human line, e.g. `connect 127.0.0.1:9 (ECONNREFUSED)`. */
  summary: string;
}

export interface Finding {
  /** Stable rule id, e.g. `network-attempt`. */
  rule: string;
  severity: Severity;
  phase: Phase;
  title: string;
  evidence: EvidenceRef[];
}

export function severityAtLeast(s: Severity, min: Severity): boolean {
  return SEVERITY_ORDER.indexOf(s) >= SEVERITY_ORDER.indexOf(min);
}
