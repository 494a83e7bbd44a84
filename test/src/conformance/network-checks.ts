/**
 * Conformance, network isolation: connects, sends and DNS get nowhere, and strace sees them all;
 * on the sinkhole network they are answered and recorded, and still nothing leaves the guest.
 */
import { parseSinkholeLog } from '@pyti/slave';
import { parseStrace, summarizeTrace } from '@pyti/common';
import type { TaskRawParams } from '@pyti/vm-agent';
import { NET_PROBE_NAME, SINK_PROBE_NAME } from './conformance-plans.js';
import type { ConformanceSessions } from './conformance-sessions.js';
import { guestReport } from './guest-report.js';
import { notificationsOf, outputOf } from './protocol-recorder.js';

interface NetReport {
  tcp: { address: string; port: number; connected: boolean; error?: string }[];
  udp: { address: string; port: number; sent: boolean; reply: boolean; error?: string }[];
  dns: { name: string; resolved: string[]; error?: string };
  interfaces: string[];
}

export function networkChecks(s: ConformanceSessions): void {
  const timeout = s.budgetMs('protocol');

  it('gives the guest no network: TCP connects and UDP sends to loopback, and a DNS lookup, all get nowhere', async () => {
    const { rec } = await s.protocol();
    const r = guestReport<NetReport>(outputOf(rec, 'net-probe'), 'net-probe');
    expect(r.interfaces.filter((i) => i !== 'lo')).toEqual([]);
    expect(r.tcp.length).toBe(3);
    for (const c of r.tcp) expect(c).toMatchObject({ connected: false, error: expect.any(String) });
    for (const u of r.udp) expect(u.reply).toBe(false);
    expect(r.dns).toMatchObject({ name: NET_PROBE_NAME, resolved: [] });
  }, timeout);

  it('under strace, every attempt is in the trace: the connects, the UDP send and the DNS query\'s name', async () => {
    const { rec } = await s.protocol();
    const raw = Buffer.concat(notificationsOf(rec, 'net-probe').filter((n) => n.method === 'task/raw')
      .map((n) => n.params as TaskRawParams).filter((p) => p.name === 'net.strace').map((p) => Buffer.from(p.data, 'base64')));
    const trace = summarizeTrace(parseStrace(raw).events);
    const connects = trace.network.filter((n) => n.op === 'connect' && n.protocol === 'tcp').map((n) => `${n.address}:${n.port}:${n.ok}`);
    expect(connects).toEqual(expect.arrayContaining(['127.0.0.1:9:false', '127.0.0.1:53:false', '127.0.0.2:80:false']));
    expect(trace.network.some((n) => n.op === 'send' && n.protocol === 'udp' && n.address === '127.0.0.2' && n.port === 9)).toBe(true);
    expect(trace.dnsNames).toContain(NET_PROBE_NAME);
  }, timeout);
}

interface SinkReport {
  v4: string;
  v6: string;
  tcp: { address: string; port: number; connected: boolean; reply?: string; tls?: string; error?: string }[];
  udp: { address: string; port: number; sent: boolean; error?: string };
  loopback: { port: number; received: string | null };
  change: { route: number | string; nft: number | string };
  routes: string[];
  interfaces: string[];
}

/** Conformance, the sinkhole network: answered and recorded, complete, and still nothing leaves. */
export function sinkholeChecks(s: ConformanceSessions): void {
  const timeout = s.budgetMs('protocol');
  const probe = async (): Promise<{ r: SinkReport; log: Buffer }> => {
    const { rec } = await s.protocol();
    const r = guestReport<SinkReport>(outputOf(rec, 'sink-probe'), 'sink-probe');
    const log = Buffer.concat(notificationsOf(rec, 'sink-probe').filter((n) => n.method === 'task/raw')
      .map((n) => n.params as TaskRawParams).filter((p) => p.name === 'sinkhole.jsonl').map((p) => Buffer.from(p.data, 'base64')));
    return { r, log };
  };

  it('a sinkhole task: names resolve to the sinkhole, connections are answered, loopback is untouched, nothing leaves', async () => {
    const { r } = await probe();
    expect((await s.protocol()).rec.hello!.capabilities).toEqual({ network: ['none', 'sinkhole'] });
    expect(r.interfaces).toEqual(['lo']);
    expect(r.routes.filter((d) => d !== 'lo')).toEqual([]); // every route, IPv4 and IPv6, is over loopback
    expect(r).toMatchObject({ v4: '198.51.100.7', v6: '2001:db8::7' });
    expect(r.tcp).toHaveLength(4);
    for (const c of r.tcp) expect(c.connected).toBe(true);
    expect(r.tcp[0]!.reply).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n#!\/bin\/sh\n# sinkhole\n$/);
    expect(r.udp.sent).toBe(true);
    expect(r.loopback.received).toBe('loopback-ok');
    // Task code cannot change the routes or the rules.
    expect(r.change.route).not.toBe(0);
    expect(r.change.nft).not.toBe(0);
  }, timeout);

  it('the sinkhole log is complete: the lookups, every connection with its destination, the HTTP request, the SNI, the datagram', async () => {
    const { r, log } = await probe();
    const { records, rejected } = parseSinkholeLog(log, 'build');
    expect(rejected).toBe(0);
    const dns = records.filter((x) => x.kind === 'dns' && x.dnsName === SINK_PROBE_NAME).map((x) => x.dnsType);
    expect(dns).toEqual(expect.arrayContaining(['A', 'AAAA']));
    for (const c of r.tcp) expect(records.filter((x) => x.kind === 'tcp' && x.address === c.address && x.port === c.port)).toHaveLength(1);
    const http = records.find((x) => x.port === 80)!;
    expect(http.http).toMatchObject({ method: 'GET', path: '/conformance', host: SINK_PROBE_NAME });
    expect(http.http!.headers).toEqual(expect.arrayContaining([['X-Conformance', '1']]));
    expect(records.find((x) => x.port === 443)!.sni).toBe(SINK_PROBE_NAME);
    expect(Buffer.from(records.find((x) => x.port === 6667)!.payloadBase64!, 'base64').toString()).toBe('NICK pyti\r\n');
    expect(records.find((x) => x.address === '2001:db8::7')).toMatchObject({ port: 8443, bytesSent: 13 });
    expect(records.find((x) => x.kind === 'udp')).toMatchObject({ address: '198.51.100.7', port: 9999, bytesSent: 13 });
    expect(records.some((x) => x.port === r.loopback.port)).toBe(false);
  }, timeout);
}
