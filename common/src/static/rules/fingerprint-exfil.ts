/** User/host fingerprint collected and sent over the network at install or import time. */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';
import { FINGERPRINT, NET_CALL, NET_SEND } from '../patterns.js';
import type { SourceFile } from '../source-file.js';

/** Outside setup scripts, cwd and environment reads are everywhere: only user/host identity counts. */
const STRONG_FP = /getuser|getlogin|gethostname|platform\s*\.\s*(?:node|uname)|os\s*\.\s*uname|getfqdn|getpwuid|whoami|ipconfig|ifconfig/;

export const fingerprintExfil: StaticRule = {
  id: 'fingerprint-exfil',
  description: 'user or host fingerprint (getuser, getlogin, gethostname, platform.node, os.environ, cwd) and a network send in setup.py, a .pth, or at module level of a package module',
  severity: 'critical',
  technique: 'Dependency-confusion probes (Birsan 2021 and thousands of 999.x copies): setup.py posts or DNS-encodes username, hostname and cwd to a collector',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config' || file.role === 'aux') return [];
    const early = file.role === 'setup' || file.role === 'pth';
    const fp: number[] = [];
    const net: number[] = [];
    for (let i = 0; i < file.code.length; i++) {
      const l = file.code[i]!;
      if (FINGERPRINT.test(l) && (early || STRONG_FP.test(l))) fp.push(i);
      if (NET_SEND.test(l) || NET_CALL.test(l)) {
        if (early || (file.role === 'init' ? file.atImport[i] : file.indent[i] === 0)) net.push(i);
      }
    }
    if (!early && fp.length && /webhook|discord|telegram/i.test(file.codeText)) {
      const inDef = sameFunction(file, fp);
      if (inDef.length) return inDef.map((i) => ({ line: i, severity: 'high', what: 'fingerprint sent to a webhook', excerpt: around(file.lines[i]!, /\S/) }));
    }
    if (!fp.length || !net.length) return [];
    if (!early && !fp.some((i) => (file.role === 'init' ? file.atImport[i] : file.indent[i] === 0)) && net.every((i) => !NET_SEND.test(file.code[i]!))) return [];
    const sev = early ? 'critical' : 'high';
    const hits: RuleHit[] = [];
    for (const i of fp.slice(0, 8)) hits.push({ line: i, severity: sev, what: 'fingerprint', excerpt: around(file.lines[i]!, FINGERPRINT) });
    for (const i of net.slice(0, 8)) hits.push({ line: i, severity: sev, what: 'network send', excerpt: around(file.lines[i]!, NET_CALL.test(file.code[i]!) ? NET_CALL : NET_SEND) });
    return hits.sort((a, b) => a.line - b.line);
  },
};

/** Lines of one function that both fingerprints (a line of `fp`) and sends (NET_SEND): the fingerprint and send lines. */
function sameFunction(file: SourceFile, fp: number[]): number[] {
  for (const i of fp) {
    let d = i;
    while (d >= 0 && !(/^\s*def\s/.test(file.code[d]!) && file.indent[d]! < file.indent[i]!)) d--;
    if (d < 0) continue;
    const ind = file.indent[d]!;
    for (let j = d + 1; j < file.code.length && j < d + 200; j++) {
      const l = file.code[j]!;
      if (l.trim() && file.indent[j]! <= ind) break;
      if (NET_SEND.test(l) && /requests|urlopen|post|send/.test(l)) return [i, j];
    }
  }
  return [];
}
