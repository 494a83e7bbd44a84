/** Process starts in setup.py, or at module level of a package __init__ or .pth. */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';
import { PROC_CALL, SHELL_PAYLOAD, URL } from '../patterns.js';

/** Build tools a benign setup.py runs. */
const BUILD_TOOL = /["'\[](?:git|make|cmake|gcc|cc|g\+\+|clang|pkg-config|ninja|cython|npm|yarn|swig|nvcc|rustc|cargo|xcrun|brew|uname|which|sh\s+configure|\.\/configure)\b/;

export const installTimeProcess: StaticRule = {
  id: 'install-time-process',
  description: 'a process start (os.system, subprocess, os.popen) in setup.py or at module level of __init__.py/.pth (of any module when it names a URL or a fetch/hide command); high when the command fetches or hides (curl|sh, powershell, nohup, /dev/tcp, chmod +x)',
  severity: 'high',
  technique: 'setup.py running `curl … | sh`, `powershell -w hidden …` or a dropped binary at install (PyPI droppers 2022–2024); benign setup scripts run git/make/cmake',
  run(file) {
    const early = file.role === 'setup' || file.role === 'pth';
    const plain = file.role === 'module';
    if (!early && file.role !== 'init' && !plain) return [];
    const hits: RuleHit[] = [];
    for (let i = 0; i < file.code.length; i++) {
      const line = file.code[i]!;
      if (!PROC_CALL.test(line)) continue;
      if (plain && (!file.atImport[i] || !(SHELL_PAYLOAD.test(line) || URL.test(line)))) continue;
      const near = file.code.slice(Math.max(0, i - 2), i + 4).join('\n');
      const payload = SHELL_PAYLOAD.test(line) || (SHELL_PAYLOAD.test(near) && !BUILD_TOOL.test(line));
      let sev: RuleHit['severity'];
      if (payload) sev = 'high';
      else if (plain) sev = 'medium';
      else if (early && /\.(?:exe|bat|cmd|ps1|vbs|scr)\b/i.test(line)) sev = 'medium';
      else if (!early) sev = file.atImport[i] ? 'medium' : 'info';
      else sev = BUILD_TOOL.test(near) || /sys\.executable/.test(line) ? 'info' : 'low';
      if (sev === 'info') continue;
      hits.push({ line: i, severity: sev, what: payload ? 'process start with a fetch/hidden payload' : 'process start', excerpt: around(file.lines[i]!, PROC_CALL) });
    }
    return hits;
  },
};
