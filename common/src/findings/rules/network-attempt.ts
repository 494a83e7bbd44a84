/** network-attempt: a connection or datagram to an IP address. */
import { fmtNet, grouped, ref, type Rule } from '../rule-kit.js';

export const networkAttemptRule: Rule = {
  id: 'network-attempt',
  description: 'a connection or datagram to an IP address during build, install or import',
  severity: 'high',
  technique: 'exfiltration and second-stage downloads from setup.py or __init__.py (e.g. the 2022 ctx and 2023 "requests-darwin-lite" samples post to an HTTP endpoint)',
  run(events, phase) {
    const dnsPids = new Set(events.filter((e) => e.kind === 'net' && e.dns).map((e) => e.pid));
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'net' || (e.op !== 'connect' && e.op !== 'send') || (e.family !== 'inet' && e.family !== 'inet6')) return [];
      if (e.port === 53 && (e.dns || dnsPids.has(e.pid))) return []; // name lookups: see dns-lookup
      const target = `${e.address}:${e.port ?? ''}`;
      return [{ key: target, severity: 'high' as const, title: `${phase} tries the network: ${target}`, ev: ref(e, phase, fmtNet(e)) }];
    }));
  },
};
