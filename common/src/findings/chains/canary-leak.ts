/**
 * canary-leak: a planted canary value appears where data leaves a process: an exec's argv, a DNS
 * name (plain or encoded), what the sinkhole recorded (payload, HTTP path and headers, DNS name),
 * or a file written during the audit (bait-check's hits).
 */
import type { TraceEvent } from '../../trace/trace-events.js';
import type { SinkholeRecord } from '../../sinkhole/sinkhole-record.js';
import type { EvidenceRef, Finding, Phase, RuleInfo } from '../finding.js';
import { dnsTexts, findCanaries, type BaitHit, type CanaryIndex } from '../../bait/index.js';
import { ref } from '../rule-kit.js';
import { sinkholeRef } from './secret-exfil.js';

export const canaryLeakInfo: RuleInfo = {
  id: 'canary-leak',
  description: 'a planted canary credential leaves a process: in an exec argv, a DNS name (plain, hex, base32, base64), a sinkhole record, or a file written during the audit',
  severity: 'critical',
  technique: 'exfiltration of stolen credentials over HTTP webhooks, DNS labels or curl arguments (W4SP\'s Discord webhooks, DNS-tunnelling dependency-confusion payloads); detected with honeytokens',
};

const leak = (phase: Phase, ids: string[], how: string, evidence: EvidenceRef[]): Finding => ({
  rule: canaryLeakInfo.id, severity: 'critical', phase, title: `${phase}: the planted ${ids.join(', ')} leaves ${how}`, evidence,
});

/** Canary leaks in one phase's events (argv, DNS names). */
export function canaryLeaksInTrace(events: TraceEvent[], phase: Phase, idx: CanaryIndex): Finding[] {
  const out: Finding[] = [];
  for (const e of events) {
    if (out.length >= 20) break;
    if (e.kind === 'exec') {
      const ids = findCanaries(e.argv.join(' '), idx);
      if (ids.length) out.push(leak(phase, ids, `in the arguments of ${e.path}`, [ref(e, phase, `exec ${e.path} [${e.argv.join(' ').slice(0, 300)}]`)]));
    } else if (e.kind === 'net' && e.dns) {
      const ids = [...new Set(dnsTexts(e.dns.name).flatMap((t) => findCanaries(t, idx)))];
      if (ids.length) out.push(leak(phase, ids, `in the DNS name ${e.dns.name.slice(0, 120)}`, [ref(e, phase, `DNS ${e.dns.type} ${e.dns.name}`)]));
    }
  }
  return out;
}

/** Canary leaks in what the sinkhole recorded. */
export function canaryLeaksInSinkhole(records: SinkholeRecord[], idx: CanaryIndex): Finding[] {
  const out: Finding[] = [];
  for (const s of records.slice(0, 5000)) {
    if (!s || typeof s !== 'object') continue;
    if (out.length >= 20) break;
    // Records may come back from a stored report (rescore): read every field defensively.
    const parts: [string, string][] = [];
    const str = (v: unknown): v is string => typeof v === 'string';
    if (str(s.dnsName)) parts.push(...dnsTexts(s.dnsName).map((t): [string, string] => ['the DNS name', t]));
    if (str(s.sni)) parts.push(['the TLS server name', s.sni]);
    if (s.http && typeof s.http === 'object') {
      if (str(s.http.path)) parts.push(['the HTTP path', s.http.path]);
      if (str(s.http.host)) parts.push(['the HTTP host', s.http.host]);
      for (const h of Array.isArray(s.http.headers) ? s.http.headers.slice(0, 100) : []) {
        if (Array.isArray(h) && str(h[0]) && str(h[1])) parts.push([`the HTTP header ${h[0].slice(0, 60)}`, h[1]]);
      }
    }
    if (str(s.payloadBase64)) parts.push(['the payload', Buffer.from(s.payloadBase64, 'base64').toString('latin1')]);
    const found = new Map<string, string>();
    for (const [where, text] of parts) for (const id of findCanaries(text, idx)) if (!found.has(id)) found.set(id, where);
    if (!found.size) continue;
    const wheres = [...new Set(found.values())].join(', ');
    out.push(leak(s.phase, [...found.keys()], `to the network (${wheres}, seen by the sinkhole)`, [sinkholeRef(s, wheres)]));
  }
  return out;
}

/** Canary copies bait-check found in files, attributed to the phase whose trace wrote the file. */
export function canaryLeaksInFiles(hits: BaitHit[], traces: Map<Phase, TraceEvent[]>): Finding[] {
  const byPath = new Map<string, string[]>();
  for (const h of hits) byPath.set(h.path, [...new Set([...(byPath.get(h.path) ?? []), h.canary])]);
  const out: Finding[] = [];
  for (const [path, ids] of [...byPath].slice(0, 20)) {
    let where: { phase: Phase; e: TraceEvent } | undefined;
    for (const [phase, events] of traces) {
      const e = events.find((x) => x.kind === 'file' && x.ok && (x.op === 'write' || x.op === 'create' || (x.op === 'rename' && x.to === path)) && (x.path === path || x.to === path));
      if (e) {
        where = { phase, e };
        break;
      }
    }
    const phase: Phase = where?.phase ?? 'import';
    const ev: EvidenceRef = where ? ref(where.e, phase, `write ${path}`) : { phase, seq: -1, line: 0, pid: 0, summary: `bait-check: ${path} holds ${ids.join(', ')} (its writer was not traced)` };
    out.push(leak(phase, ids.slice(0, 10), `copied into ${path.slice(0, 300)}`, [ev]));
  }
  return out;
}
