/** Reverse shells and web shells: commands read from a socket or an HTTP request and run, or a shell wired to a socket. */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';
import { PROC_CALL } from '../patterns.js';

const DUP = /\bos\s*\.\s*dup2\s*\(\s*[\w.]+\s*\.\s*fileno\s*\(\s*\)\s*,\s*[012]\s*\)/;
const RECV = /\.recv\s*\(/;
const WEB_INPUT = /\brequest\s*\.\s*(?:args|form|values|json|data|get_json)\b/;
const SHELL = /["']\/bin\/(?:ba|z)?sh["']|["'](?:cmd|powershell)(?:\.exe)?["']/;

export const remoteShell: StaticRule = {
  id: 'remote-shell',
  description: 'a reverse or web shell: a socket wired to a shell (os.dup2(s.fileno())), commands received on a socket or from request arguments and run, or an interactive /bin/sh started',
  severity: 'high',
  technique: 'PyPI reverse-shell packages (socket.connect → recv → subprocess.Popen(cmd, shell=True)), pty.spawn("/bin/sh") with dup2, Flask routes running request.args in a shell (typosquat backdoors 2022–2024)',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    const hits: RuleHit[] = [];
    const sev = file.role === 'aux' ? 'low' : 'high';
    for (let i = 0; i < file.code.length; i++) {
      const l = file.code[i]!;
      if (DUP.test(l) && /\bsocket\b/.test(file.codeText)) {
        hits.push({ line: i, severity: sev, what: 'socket wired to standard input/output', excerpt: around(file.lines[i]!, DUP) });
        continue;
      }
      if (!PROC_CALL.test(l) && !/\bpty\s*\.\s*spawn/.test(l)) continue;
      const before = file.code.slice(Math.max(0, i - 15), i + 1).join('\n');
      if (WEB_INPUT.test(l)) hits.push({ line: i, severity: sev, what: 'request input run as a command', excerpt: around(file.lines[i]!, PROC_CALL) });
      else if (RECV.test(before) && /shell\s*=\s*True|\bos\s*\.\s*(?:system|popen)|pty/.test(l)) hits.push({ line: i, severity: sev, what: 'command received on a socket and run', excerpt: around(file.lines[i]!, PROC_CALL) });
      else if (SHELL.test(l) && /shell\s*=\s*True|pty|Popen|call\s*\(/.test(l)) hits.push({ line: i, severity: file.role === 'aux' ? 'low' : 'medium', what: 'interactive shell started', excerpt: around(file.lines[i]!, SHELL) });
    }
    return hits;
  },
};
