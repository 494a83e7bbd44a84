/** dns-lookup: a DNS query. */
import { fmtNet, grouped, ref, type Rule } from '../rule-kit.js';

export const dnsLookupRule: Rule = {
  id: 'dns-lookup',
  description: 'a DNS query during build, install or import',
  severity: 'high',
  technique: 'C2 name resolution and DNS tunnelling of stolen data (e.g. the 2021 dependency-confusion packages that leaked hostnames in DNS labels)',
  run(events, phase) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'net' || !e.dns) return [];
      return [{ key: e.dns.name, severity: 'high' as const, title: `${phase} looks up ${e.dns.name}`, ev: ref(e, phase, `DNS ${e.dns.type} ${e.dns.name} via ${fmtNet(e)}`) }];
    }));
  },
};
