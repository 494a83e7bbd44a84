/**
 * `sinkhole-contact`: the package reached a remote host through the sinkhole during a traced phase
 * (build, install, import, execute): an HTTP request, a TLS connection or any other TCP connection
 * is `high`, a datagram to a port other than DNS `medium`. Name lookups alone are the trace rule
 * `dns-lookup`'s. One finding per phase, destination and HTTP method, with the sinkhole log's lines as evidence.
 */
import type { EvidenceRef, Finding, RuleInfo } from './finding.js';
import type { SinkholeRecord } from '../sinkhole/sinkhole-record.js';

/** The rule's declaration. */
export const SINKHOLE_CONTACT_RULE: RuleInfo = {
  id: 'sinkhole-contact',
  description: 'an HTTP request, TLS connection, other TCP connection or datagram to a remote host during build, install, import or execute',
  severity: 'high',
  technique: 'droppers and stealers contact their server from setup.py or at import: a second stage fetched over HTTP(S), stolen data sent by HTTP POST or to a chat webhook over TLS, raw TCP reverse shells',
};

const MAX_EVIDENCE = 20;

function where(r: SinkholeRecord): string {
  const host = r.http?.host ?? r.sni;
  const addr = r.address.includes(':') ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`;
  return host ? `${host} (${addr})` : addr;
}

function summary(r: SinkholeRecord): string {
  if (r.http) return `HTTP ${r.http.method} http://${r.http.host ?? r.address}${r.http.path} (${r.bytesSent} bytes sent)`;
  if (r.sni !== undefined) return `TLS ClientHello for ${r.sni} to ${where(r)} (${r.bytesSent} bytes sent)`;
  return `${r.kind.toUpperCase()} to ${where(r)} (${r.bytesSent} bytes sent)`;
}

/** The findings of a report's sinkhole records. Pure. */
export function sinkholeFindings(records: SinkholeRecord[]): Finding[] {
  const out = new Map<string, Finding>();
  for (const r of records) {
    if (r.kind === 'dns') continue;
    const key = `${r.phase} ${r.kind} ${r.address} ${r.port} ${r.http?.host ?? r.sni ?? ''} ${r.http?.method ?? ''}`;
    const ev: EvidenceRef = { phase: r.phase, seq: 0, line: r.line, pid: 0, file: 'sinkhole.jsonl', summary: summary(r).slice(0, 500) };
    const f = out.get(key);
    if (f) {
      if (f.evidence.length < MAX_EVIDENCE) f.evidence.push(ev);
      continue;
    }
    const what = r.http ? `sends an HTTP ${r.http.method} to` : r.sni !== undefined ? 'opens a TLS connection to' : r.kind === 'tcp' ? 'connects to' : 'sends a datagram to';
    out.set(key, {
      rule: SINKHOLE_CONTACT_RULE.id,
      severity: r.kind === 'udp' ? 'medium' : 'high',
      phase: r.phase,
      title: `${r.phase} ${what} ${where(r)}`.slice(0, 300),
      evidence: [ev],
    });
  }
  return [...out.values()];
}
