/**
 * The dynamic findings of an audit: the per-phase rules (rules.ts, one file each in rules/) and the
 * cross-phase ones (chains/): secret reads followed by network activity, and canary leaks into
 * argv, DNS names, the sinkhole and written files. The one entry point the report builder calls.
 */
import type { TraceEvent } from '../trace/trace-events.js';
import type { SinkholeRecord } from '../sinkhole/sinkhole-record.js';
import { severityAtLeast, type Finding, type Phase, type RuleInfo, type Severity } from './finding.js';
import { findingsFor, RULES } from './rules.js';
import type { RuleContext } from './rule-kit.js';
import { secretExfilChain, secretExfilChainInfo } from './chains/secret-exfil.js';
import { canaryLeakInfo, canaryLeaksInFiles, canaryLeaksInSinkhole, canaryLeaksInTrace } from './chains/canary-leak.js';
import { indexCanaries, type BaitHit, type ReportBait } from '../bait/index.js';
import { cloudMetadataRule, METADATA_ADDRESSES, METADATA_NAMES } from './rules/cloud-metadata.js';
import { sinkholeRef } from './chains/secret-exfil.js';
import { SINKHOLE_CONTACT_RULE, sinkholeFindings } from './sinkhole-contact.js';
import { WINDOWS_SHIM_RULES, windowsShimFindings } from './windows-shim.js';
import type { WindowsCommand } from '../report/reach.js';

export { findingsFor, RULES } from './rules.js';
export type { Rule, RuleContext } from './rule-kit.js';

/** What dynamicFindings reads. */
export interface DynamicInput {
  /** Each traced phase's events. */
  traces: Map<Phase, TraceEvent[]>;
  /** What the sinkhole recorded, all phases (host-parsed, shape-checked). */
  sinkhole?: SinkholeRecord[];
  /** The audit's bait (planted paths and canaries), when bait was planted. */
  bait?: ReportBait;
  /** Canaries bait-check found in files written during the audit. */
  baitHits?: BaitHit[];
  /** What the Windows shims were asked to run (host-parsed, shape-checked). */
  windowsCommands?: WindowsCommand[];
}

/** Every dynamic rule's declaration: the per-phase rules and the cross-phase ones. */
export const DYNAMIC_RULES: readonly RuleInfo[] = [
  ...RULES.map(({ id, description, severity, technique }) => ({ id, description, severity, technique })),
  secretExfilChainInfo, canaryLeakInfo, SINKHOLE_CONTACT_RULE, ...WINDOWS_SHIM_RULES,
];

/**
 * The execute phase calls every public function of a package with made-up arguments, which no user
 * does: a PyPI client then reads ~/.pypirc and contacts the index (distlib), a CLI toolkit opens an
 * editor through a shell (click). What happens there is shown, but is evidence of at most `low`,
 * except a planted canary leaving a process, which no benign call does.
 */
export const EXECUTE_PHASE_MAX: Severity = 'low';
const EXECUTE_PHASE_UNCAPPED = new Set(['canary-leak']);

/** Caps the execute phase's findings at EXECUTE_PHASE_MAX (canary leaks excepted). */
function capExecutePhase(f: Finding): Finding {
  if (f.phase !== 'execute' || EXECUTE_PHASE_UNCAPPED.has(f.rule) || !severityAtLeast(f.severity, 'medium')) return f;
  return { ...f, severity: EXECUTE_PHASE_MAX, title: `${f.title} (execute phase: at most ${EXECUTE_PHASE_MAX})` };
}

/** Runs every dynamic rule. `ctx.baitFiles` defaults to the bait's planted files. */
export function dynamicFindings(input: DynamicInput, ctx: RuleContext): Finding[] {
  return runDynamicRules(input, ctx).map(capExecutePhase);
}

function runDynamicRules(input: DynamicInput, ctx: RuleContext): Finding[] {
  const c: RuleContext = { ...ctx, baitFiles: ctx.baitFiles ?? input.bait?.files ?? [] };
  const sinkhole = input.sinkhole ?? [];
  const idx = indexCanaries(input.bait?.canaries ?? []);
  const out: Finding[] = [];
  for (const [phase, events] of input.traces) {
    out.push(...findingsFor(events, phase, c));
    out.push(...secretExfilChain(events, phase, c, sinkhole));
    if (idx.grams.size) out.push(...canaryLeaksInTrace(events, phase, idx));
  }
  if (idx.grams.size) {
    out.push(...canaryLeaksInSinkhole(sinkhole, idx));
    out.push(...canaryLeaksInFiles(input.baitHits ?? [], input.traces));
  }
  out.push(...sinkholeFindings(sinkhole));
  out.push(...windowsShimFindings(input.windowsCommands ?? []));
  // The sinkhole sees metadata lookups the trace may show only as a DNS send to the resolver.
  const meta = sinkhole.filter((s) => METADATA_ADDRESSES.has(s.address) || (s.dnsName && METADATA_NAMES.test(s.dnsName)));
  if (meta.length && !out.some((f) => f.rule === cloudMetadataRule.id)) {
    out.push({ rule: cloudMetadataRule.id, severity: 'high', phase: meta[0]!.phase, title: `${meta[0]!.phase} reaches the cloud metadata service (seen by the sinkhole)`, evidence: meta.slice(0, 10).map((s) => sinkholeRef(s)) });
  }
  return out;
}
