/** A file written with a downloader or loader inside it (a shell/PowerShell/Python stage written to disk). */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';

const WRITE = /\.write\s*\(|\.write_text\s*\(|\bprint\s*\([^)\n]{0,40}file\s*=/;
const STAGE = /\b(?:curl|wget)\s+[^\n]{0,120}(?:https?:|-O\b|-o\b|\|)|powershell|Invoke-WebRequest|DownloadString|urlopen\s*\([^\n]{0,200}\)\s*\.\s*read\s*\(\s*\)\s*\)|exec\s*\(\s*[\w.]*urlopen|urlopen[^\n]{0,300}\bexec\b|\bexec\b[^\n]{0,300}urlopen|\/dev\/tcp\/|\bnc\s+-e\b|crontab\b|\bsystemctl\s+enable\b/i;

export const scriptDrop: StaticRule = {
  id: 'script-drop',
  description: 'a file written whose content fetches or runs a stage (curl/wget, PowerShell download, exec(urlopen(…).read()), /dev/tcp, crontab)',
  severity: 'high',
  technique: 'Droppers that write a second stage to disk and run it later: a bash script with wget … -O /tmp/x; chmod; run, or a .py with exec(urlopen(paste-host).read()) (2023 "colorama" typosquats, discord-hook)',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    const hits: RuleHit[] = [];
    for (let i = 0; i < file.code.length; i++) {
      const l = file.code[i]!;
      if (WRITE.test(l) && STAGE.test(l)) hits.push({ line: i, severity: 'high', what: 'stage written to a file', excerpt: around(file.lines[i]!, STAGE) });
    }
    return hits;
  },
};
