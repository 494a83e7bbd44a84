/**
 * Raw traces → trace summaries and dynamic findings: the one place that parses a job's phase traces
 * and runs the rules over them, shared by buildReport (a fresh audit) and rescoreReport (stored raw
 * data re-judged by the current rules). Every raw file came out of a sandbox: parsed defensively.
 */
import { parseStrace } from '../trace/strace-parser.js';
import { summarizeTrace } from '../trace/process-tree.js';
import type { RuleContext } from '../findings/rules.js';
import { dynamicFindings } from '../findings/index.js';
import type { TraceEvent } from '../trace/trace-events.js';
import type { SinkholeRecord } from '../sinkhole/sinkhole-record.js';
import { parseBaitHits, parsePlanted, type ReportBait } from '../bait/index.js';
import { PHASES, SEVERITY_ORDER, type Finding, type Phase } from '../findings/finding.js';
import type { AuditReport } from './audit-report.js';
import { readWindowsCommands, type WindowsCommand } from './reach.js';

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
  /** The bait with its files as planted (absolute guest paths), when there was bait. */
  bait?: ReportBait;
  /** What the Windows shims were asked to run (the report's `reach.windowsCommands`). */
  windowsCommands: WindowsCommand[];
}

/** What the dynamic rules read besides the traces (all optional). */
export interface TraceExtras {
  /** The audit's bait (the report's `bait`): its canaries are searched for where data leaves. */
  bait?: ReportBait;
  /** What the sinkhole recorded (host-parsed). */
  sinkhole?: SinkholeRecord[];
  /** Other names of the guest home (the hello's `paths.homeAliases`). */
  homeAliases?: string[];
}

/**
 * Parses every phase trace present in `raw` and runs the dynamic rules (findings/index.ts) over
 * them, with the bait task's planted files (raw bait/bait.json) and bait-check's hits
 * (raw bait-check/bait-hits.json) when there are any.
 */
export function analyzeTraces(raw: RawLookup, paths: RuleContext = DEFAULT_GUEST_PATHS, extra: TraceExtras = {}): TraceAnalysis {
  const traces: AuditReport['traces'] = {};
  const phaseEvents = new Map<Phase, TraceEvent[]>();
  for (const phase of PHASES) {
    const [task, file] = PHASE_TRACES[phase];
    const buf = raw(task, file);
    if (!buf) continue;
    const { events, stats } = parseStrace(buf);
    traces[phase] = { ...summarizeTrace(events, undefined, { work: paths.work, tmp: paths.tmp, home: paths.home }), stats: { lines: stats.lines, bytes: stats.bytes, unparsed: stats.unparsed } };
    phaseEvents.set(phase, events);
  }
  const homeAliases = [...(paths.homeAliases ?? []), ...(extra.homeAliases ?? [])];
  const planted = parsePlanted(raw('bait', 'bait.json'));
  const bait = extra.bait && { ...extra.bait, files: planted.length ? planted : extra.bait.files.map((f) => (f.startsWith('~/') ? `${paths.home}/${f.slice(2)}` : f)) };
  const windowsCommands = readWindowsCommands(raw);
  const findings: Finding[] = dynamicFindings(
    { traces: phaseEvents, sinkhole: extra.sinkhole, bait, baitHits: bait ? parseBaitHits(raw('bait-check', 'bait-hits.json')) : undefined, windowsCommands },
    { home: paths.home, work: paths.work, tmp: paths.tmp, ...(homeAliases.length ? { homeAliases } : {}) },
  );
  return { traces, findings: sortFindings(findings), windowsCommands, ...(bait ? { bait } : {}) };
}

/** Most severe first (stable among equals). */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort((a, b) => SEVERITY_ORDER.indexOf(b.severity) - SEVERITY_ORDER.indexOf(a.severity));
}
