/**
 * The registry of the per-phase dynamic rules (one file each in `rules/`, GuardDog's way). Each rule
 * is a pure function of one phase's events and the guest's paths; it reports what it saw with
 * evidence. Cross-phase rules (chains, canary leaks) are in `index.ts`'s dynamicFindings.
 */
import type { TraceEvent } from '../trace/trace-events.js';
import type { Finding, Phase } from './finding.js';
import type { Rule, RuleContext } from './rule-kit.js';
import { droppedExecutableRule } from './rules/dropped-executable.js';
import { sensitiveWriteRule } from './rules/sensitive-write.js';
import { persistenceRule } from './rules/persistence.js';
import { sensitiveReadRule } from './rules/sensitive-read.js';
import { networkAttemptRule } from './rules/network-attempt.js';
import { dnsLookupRule } from './rules/dns-lookup.js';
import { suspiciousSpawnRule } from './rules/suspicious-spawn.js';
import { unexpectedWriteRule } from './rules/unexpected-write.js';
import { compilerRule } from './rules/native-build.js';
import { credentialProbeRule } from './rules/credential-probe.js';
import { dnsToolRule } from './rules/dns-tool.js';
import { inlineCodeRule } from './rules/inline-code.js';
import { pipeToShellRule } from './rules/pipe-to-shell.js';
import { cloudMetadataRule } from './rules/cloud-metadata.js';
import { downloadExecRule } from './rules/download-exec.js';
import { baitReadRule } from './rules/bait-read.js';

export type { Rule, RuleContext } from './rule-kit.js';
export {
  droppedExecutableRule, sensitiveWriteRule, persistenceRule, sensitiveReadRule, networkAttemptRule, dnsLookupRule,
  suspiciousSpawnRule, unexpectedWriteRule, compilerRule, credentialProbeRule, dnsToolRule, inlineCodeRule, pipeToShellRule,
  cloudMetadataRule, downloadExecRule, baitReadRule,
};

/** Every per-phase rule, in report order. */
export const RULES: readonly Rule[] = [
  downloadExecRule, droppedExecutableRule, sensitiveWriteRule, persistenceRule, baitReadRule, sensitiveReadRule, credentialProbeRule,
  cloudMetadataRule, networkAttemptRule, dnsLookupRule, dnsToolRule, pipeToShellRule, suspiciousSpawnRule, inlineCodeRule,
  unexpectedWriteRule, compilerRule,
];

/** Runs every per-phase rule over one phase's events. */
export function findingsFor(events: TraceEvent[], phase: Phase, ctx: RuleContext): Finding[] {
  return RULES.flatMap((r) => r.run(events, phase, ctx));
}
