/** A download followed by running, chmod-ing or opening what was fetched. */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around, runsEarly } from '../static-rule.js';
import { URL, ordinaryUrl } from '../patterns.js';

const FETCH = /\burlretrieve\s*\(|\brequests\s*\.\s*get\s*\(|\burlopen\s*\(|\b(?:curl|wget)\s|Invoke-WebRequest|DownloadFile|DownloadString|\biwr\s/i;
const RUN = /\bos\s*\.\s*(?:startfile|system|popen|chmod|exec\w*)\s*\(|\bsubprocess\s*\.\s*\w+\s*\(|\bPopen\s*\(|\bchmod\s+\+?[0-7x]+|\|\s*(?:ba)?sh\b|\bStart-Process\b|\.exe\b/;

export const downloadExecute: StaticRule = {
  id: 'download-execute',
  description: 'a download (urlretrieve, requests.get, urlopen, curl/wget, Invoke-WebRequest) followed within 20 lines by running, chmod-ing or opening a file',
  severity: 'critical',
  technique: 'Droppers fetching a binary at install or import and running it (e.g. the 2023 "pyobfgood"/"libcurl" PyPI droppers: urlretrieve(…exe) then os.startfile / subprocess)',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    const hits: RuleHit[] = [];
    const exeInFile = /\.exe\b|\.scr\b|\.bat\b|\.ps1\b|\.vbs\b|\.sh["']/.test(file.codeText);
    for (let i = 0; i < file.code.length; i++) {
      if (!FETCH.test(file.code[i]!)) continue;
      const window = file.code.slice(i, i + 20);
      const k = window.findIndex((l) => RUN.test(l));
      if (k < 0) continue;
      const u = URL.exec(window.join('\n'));
      let sev: RuleHit['severity'];
      const shellLine = /\b(?:curl|wget)\s[^\n]{0,300}(?:chmod\s+\+?[0-7x]+|\|\s*(?:ba)?sh\b)/i.test(file.code[i + k]!);
      if (runsEarly(file)) sev = u && ordinaryUrl(u[0]) ? 'medium' : 'critical';
      else if (file.role === 'module') sev = shellLine || exeInFile || (u && !ordinaryUrl(u[0])) ? 'high' : 'low';
      else sev = 'low';
      hits.push({ line: i + k, severity: sev, what: `download on line ${i + 1}, then run`, excerpt: around(file.lines[i + k]!, RUN) });
      i += k;
    }
    return hits;
  },
};
