/** Windows persistence and living-off-the-land launchers (hidden PowerShell, mshta, certutil, Run keys, Startup folder). */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';
import { PROC_CALL } from '../patterns.js';

const STRONG = new RegExp([
  String.raw`powershell[^\n]{0,200}(?:-e(?:nc|ncodedcommand)?\s|-w(?:indowstyle)?\s+hid|hidden|-ep\s+bypass|-executionpolicy\s+bypass|\biex\b|invoke-expression|invoke-webrequest|downloadstring|downloadfile|add-mppreference)`,
  String.raw`\bmshta(?:\.exe)?\b`,
  String.raw`\bcertutil(?:\.exe)?[^\n]{0,80}-(?:urlcache|decode)`,
  String.raw`\bbitsadmin[^\n]{0,40}/transfer`,
  String.raw`Start Menu[\\/]+Programs[\\/]+Startup|\\\\Startup\b|Microsoft[\\/]+Windows[\\/]+Start Menu`,
  String.raw`CurrentVersion[\\/]+Run\b`,
  String.raw`\bschtasks(?:\.exe)?[^\n]{0,40}/create`,
  String.raw`\breg(?:\.exe)?\s+add\b`,
  String.raw`Add-MpPreference|Set-MpPreference|-ExclusionPath`,
  String.raw`\bvssadmin\b|\bwmic\b[^\n]{0,60}(?:shadowcopy|process\s+call)`,
].join('|'), 'i');
const LAUNCH = /\bpythonw(?:\.exe)?\b|\.exe\b|\bcmd(?:\.exe)?\s*\/[ck]\b|CREATE_NO_WINDOW|DETACHED_PROCESS|\bstart\s+\/b\b/i;
const DROP_DIR = /APPDATA|LOCALAPPDATA|\bTEMP\b|\bTMP\b|gettempdir|ProgramData|\\\\AppData\\\\/;

export const windowsDropper: StaticRule = {
  id: 'windows-dropper',
  description: 'Windows droppers: hidden/encoded PowerShell, mshta, certutil -urlcache, bitsadmin, Run keys, Startup folder, schtasks; or a process start of pythonw/.exe/cmd /c from APPDATA/TEMP',
  severity: 'high',
  technique: 'PyPI droppers 2022–2024 ("pyobfgood", W4SP, "Cuckoo"): powershell -EncodedCommand / -WindowStyle Hidden, an .exe saved in %APPDATA% or %TEMP% and started with CREATE_NO_WINDOW, Startup-folder persistence',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    const hits: RuleHit[] = [];
    const dropDir = DROP_DIR.test(file.codeText);
    for (let i = 0; i < file.code.length; i++) {
      const l = file.code[i]!;
      if (STRONG.test(l)) {
        hits.push({ line: i, severity: file.role === 'aux' ? 'low' : 'high', what: 'Windows living-off-the-land launcher or persistence', excerpt: around(file.lines[i]!, STRONG) });
      } else if (PROC_CALL.test(l) && /shell\s*=\s*True/.test(l) && /creationflags\s*=\s*(?:[\w.]*CREATE_NO_WINDOW|0x0*8\d{6}|13421\d{4})/.test(l)) {
        hits.push({ line: i, severity: file.role === 'aux' ? 'low' : 'medium', what: 'hidden-console shell command', excerpt: around(file.lines[i]!, PROC_CALL) });
      } else if (dropDir && LAUNCH.test(l) && (PROC_CALL.test(l) || /startfile|Popen|creationflags/.test(l))) {
        hits.push({ line: i, severity: file.role === 'aux' ? 'low' : 'medium', what: 'starts pythonw/.exe/cmd from a dropped location', excerpt: around(file.lines[i]!, LAUNCH) });
      }
    }
    return hits;
  },
};
