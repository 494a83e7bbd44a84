/** Network calls in setup.py, or at module level of a package __init__ or .pth (run at install/import). */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';
import { NET_CALL, URL, ordinaryUrl } from '../patterns.js';

export const installTimeNetwork: StaticRule = {
  id: 'install-time-network',
  description: 'a network call (requests, urllib, http.client, socket, DNS, webbrowser) in setup.py, or at module level of a package __init__.py or .pth',
  severity: 'medium',
  technique: 'Dependency-confusion probes and droppers calling home from setup.py or __init__.py (Birsan 2021 and its thousands of copies; PyPI typosquats)',
  run(file) {
    const early = file.role === 'setup' || file.role === 'pth';
    if (!early && file.role !== 'init') return [];
    const hits: RuleHit[] = [];
    for (let i = 0; i < file.code.length; i++) {
      const line = file.code[i]!;
      if (!NET_CALL.test(line)) continue;
      if (!early && !file.atImport[i]) continue;
      const u = URL.exec(line);
      // a download from the project's own forge in setup.py is a (poor) build practice, not an alarm
      const sev = u && ordinaryUrl(u[0]) ? 'low' : 'medium';
      hits.push({ line: i, severity: sev, what: 'network call', excerpt: around(file.lines[i]!, NET_CALL) });
    }
    return hits;
  },
};
