/**
 * What the in-sandbox sinkhole recorded of one attempt to reach the network, after the host has
 * parsed and shape-checked it (the log comes out of the sandbox: untrusted, capped).
 */
import type { Phase } from '../findings/finding.js';

export interface SinkholeRecord {
  /** The traced phase (task) during which it happened. */
  phase: Phase;
  /** 1-based line in that phase's sinkhole log (evidence). */
  line: number;
  /** Seconds since the epoch. */
  time: number;
  /** `dns`: a query the resolver answered; `tcp`: a connection the listener accepted; `udp`: a datagram to another port. */
  kind: 'dns' | 'tcp' | 'udp';
  /** The destination the package asked for (the address before redirection), and its port. */
  address: string;
  port: number;
  /** For `dns`: the name and type asked for (`A`, `AAAA`, `TXT`, …). */
  dnsName?: string;
  dnsType?: string;
  /** For TLS: the server name of the ClientHello. */
  sni?: string;
  /** For HTTP: the request line and headers. */
  http?: { method: string; host?: string; path: string; headers: [string, string][] };
  /** Bytes the package sent on the connection (all of them, not only the kept ones). */
  bytesSent: number;
  /** The first KiB of what it sent after the headers (HTTP body) or of the stream, base64. */
  payloadBase64?: string;
}
