/** Very long base64 or hex literals (packed payloads). */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { runsEarly } from '../static-rule.js';

const BLOB = /["']([A-Za-z0-9+/=_-]{2000,}|(?:\\x[0-9a-fA-F]{2}){600,}|[0-9a-fA-F]{2000,})/;

export const encodedBlob: StaticRule = {
  id: 'encoded-blob',
  description: 'a string literal of 2 000+ base64 or hex characters (a packed payload) in a setup script, package __init__ or .pth',
  severity: 'medium',
  technique: 'Packed second stages embedded as one huge base64/hex string in setup.py or __init__.py (W4SP, "Cuckoo"-style and pyobfuscate payloads)',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    const hits: RuleHit[] = [];
    for (let i = 0; i < file.code.length; i++) {
      const l = file.code[i]!;
      if (l.length < 2000) continue;
      const m = BLOB.exec(l);
      if (!m || /^[A-Za-z]+$/.test(m[1]!) || /^[0-9]+$/.test(m[1]!)) continue;
      hits.push({ line: i, severity: runsEarly(file) ? 'medium' : 'low', what: `${m[1]!.length}-character encoded literal`, excerpt: `${l.slice(Math.max(0, m.index - 40), m.index + 120)}… (${l.length} characters)` });
    }
    return hits;
  },
};
