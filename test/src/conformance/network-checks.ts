/** Conformance, network isolation: connects, sends and DNS get nowhere, and strace sees them all. */
import { parseStrace, summarizeTrace } from '@pyti/slave';
import type { TaskRawParams } from '@pyti/vm-agent';
import { NET_PROBE_NAME } from './conformance-plans.js';
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
