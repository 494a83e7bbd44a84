/** A finding: a rule's verdict on a trace or on the distribution's source, with its evidence. */

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITY_ORDER: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** The traced phases of an audit (each has a strace file of its own). */
export type Phase = 'build' | 'install' | 'import' | 'execute';
export const PHASES: readonly Phase[] = ['build', 'install', 'import', 'execute'];

/** Where a finding comes from: a traced phase, or the static reading of the source (`static`). */
export type FindingPhase = Phase | 'static';

/** Points at one event of one phase's trace. */
export interface EvidenceRef {
  phase: Phase;
  seq: number;
  /** Line in that phase's raw strace file, or in `file` when set. */
  line: number;
  /** The raw file of the phase's task the line is in, when not its strace file (`sinkhole.jsonl`, `windows-shims.jsonl`). */
  file?: string;
  pid: number;
  /** One human line, e.g. `connect 127.0.0.1:9 (ECONNREFUSED)`. */
  summary: string;
}

/** Points at one line of one file of the distribution (static evidence). */
export interface SourceRef {
  /** Path inside the archive, e.g. `evil-1.0/setup.py`. */
  file: string;
  /** 1-based line. */
  line: number;
  /** The line (or the part of it that matched), capped at 300 characters. */
  excerpt: string;
}

export interface Finding {
  /** Stable rule id, e.g. `network-attempt`. */
  rule: string;
  severity: Severity;
  phase: FindingPhase;
  title: string;
  /** Trace evidence (dynamic findings). */
  evidence: EvidenceRef[];
  /** Source evidence (static findings). */
  sources?: SourceRef[];
}

/**
 * What every rule declares about itself (GuardDog's way): a stable id, what it fires on, its
 * severity (the highest it gives), and the real technique or samples it is modelled on.
 */
export interface RuleInfo {
  id: string;
  description: string;
  severity: Severity;
  /** The real technique (and, where public, the samples) the rule is modelled on. */
  technique: string;
}

export function severityAtLeast(s: Severity, min: Severity): boolean {
  return SEVERITY_ORDER.indexOf(s) >= SEVERITY_ORDER.indexOf(min);
}
