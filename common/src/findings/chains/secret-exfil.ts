/**
 * secret-exfil-chain: one process tree reads secrets (or bait) and then talks to the network
 * (connect, send, DNS; or the sinkhole recorded something later in the same phase). One finding
 * above its parts, with the chain as evidence.
 */
import type { TraceEvent } from '../../trace/trace-events.js';
import type { SinkholeRecord } from '../../sinkhole/sinkhole-record.js';
import type { EvidenceRef, Finding, Phase, RuleInfo } from '../finding.js';
import { fmtNet, homeRelative, ref, type RuleContext } from '../rule-kit.js';
import { sensitivePlace } from '../places.js';

export const secretExfilChainInfo: RuleInfo = {
  id: 'secret-exfil-chain',
  description: 'a process tree reads credentials or planted bait and then talks to the network (connect, send, DNS, or a sinkhole record after it)',
  severity: 'critical',
  technique: 'the stealer pattern end to end: collect ~/.ssh, ~/.aws, browser and Discord data, then post it to a webhook or C2 (W4SP, "discordpydebug", the 2024 "pytoileur" family)',
};

/** Pids related by ancestry (same, ancestor or descendant) in a trace. */
function ancestry(events: TraceEvent[]): (a: number, b: number) => boolean {
  const parent = new Map<number, number>();
  for (const e of events) {
    if (e.kind === 'fork') parent.set(e.child, e.pid);
    else if (e.ppid !== undefined && !parent.has(e.pid)) parent.set(e.pid, e.ppid);
  }
  const isAncestor = (anc: number, pid: number): boolean => {
    for (let p: number | undefined = pid, n = 0; p !== undefined && n < 10_000; p = parent.get(p), n++) if (p === anc) return true;
    return false;
  };
  return (a, b) => a === b || isAncestor(a, b) || isAncestor(b, a);
}

/** Runs the chain rule over one phase. */
export function secretExfilChain(events: TraceEvent[], phase: Phase, ctx: RuleContext, sinkhole: SinkholeRecord[] = []): Finding[] {
  const bait = new Set(ctx.baitFiles ?? []);
  const baitRel = new Set([...bait].map((b) => homeRelative(b, ctx)).filter((r): r is string => !!r));
  // Not ~/.netrc: requests reads it before every request, so any HTTP client would chain.
  const isSecret = (p: string): boolean => {
    const place = sensitivePlace(p, ctx);
    return (!!place && place !== '~/.netrc') || bait.has(p) || baitRel.has(homeRelative(p, ctx) ?? '\0');
  };
  const related = ancestry(events);
  const reads: Extract<TraceEvent, { kind: 'file' }>[] = [];
  const out: Finding[] = [];
  const used = new Set<number>();
  for (const e of events) {
    if (e.kind === 'file' && e.op === 'read' && e.ok && isSecret(e.path)) {
      if (reads.length < 50) reads.push(e);
      continue;
    }
    if (e.kind !== 'net' || (e.family !== 'inet' && e.family !== 'inet6') || (e.op !== 'connect' && e.op !== 'send')) continue;
    const before = reads.filter((r) => related(r.pid, e.pid));
    if (!before.length || used.has(e.pid)) continue;
    used.add(e.pid);
    const evidence: EvidenceRef[] = [...before.slice(0, 8).map((r) => ref(r, phase, `read ${r.path}`)), ref(e, phase, e.dns ? `DNS ${e.dns.type} ${e.dns.name}` : fmtNet(e))];
    out.push({ rule: secretExfilChainInfo.id, severity: 'critical', phase, title: `${phase} reads ${before.length} secret file(s) and then talks to the network`, evidence });
  }
  if (reads.length) {
    const first = reads[0]!;
    const later = sinkhole.filter((s) => s.phase === phase && s.time >= first.time).slice(0, 5);
    if (later.length && !out.length) {
      out.push({
        rule: secretExfilChainInfo.id, severity: 'critical', phase,
        title: `${phase} reads ${reads.length} secret file(s) and then reaches the sinkhole`,
        evidence: [...reads.slice(0, 8).map((r) => ref(r, phase, `read ${r.path}`)),
          ...later.map((s) => sinkholeRef(s))],
      });
    }
  }
  return out.slice(0, 10);
}

/** Evidence pointing at a sinkhole record (its line in the phase's sinkhole log). */
export function sinkholeRef(s: SinkholeRecord, what = ''): EvidenceRef {
  const target = s.kind === 'dns' ? `DNS ${s.dnsType ?? ''} ${s.dnsName ?? ''}` : `${s.kind} ${s.address}:${s.port}${s.http ? ` ${s.http.method} ${s.http.host ?? ''}${s.http.path}` : ''}`;
  return { phase: s.phase, seq: -1, line: s.line, pid: 0, file: 'sinkhole.jsonl', summary: `sinkhole: ${target}${what ? ` (${what})` : ''}`.slice(0, 500) };
}
