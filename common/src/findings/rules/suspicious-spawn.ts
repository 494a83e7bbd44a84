/** suspicious-spawn: spawns a shell, a downloader or a non-Python interpreter. */
import { article, base, grouped, ref, type Rule } from '../rule-kit.js';
import type { Severity } from '../finding.js';
import { DOWNLOADERS, INTERPRETERS, SHELLS, shellScriptPrograms } from '../programs.js';

export const suspiciousSpawnRule: Rule = {
  id: 'suspicious-spawn',
  description: 'spawns a shell, a downloader or a non-Python interpreter (attempts count too)',
  severity: 'high',
  technique: 'setup.py that runs `curl … | sh`, `wget` a second stage, or `os.system` a shell command (e.g. the 2023 "pyrologin" and "colourama" droppers)',
  run(events, phase) {
    const seen = new Set<string>();
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'exec') return [];
      const name = base(e.path);
      const kind = DOWNLOADERS.has(name) ? 'downloader' : SHELLS.has(name) ? 'shell' : INTERPRETERS.has(name) ? 'interpreter' : null;
      if (!kind) return [];
      // A failed exec is retried along $PATH: count one attempt per process and program.
      const once = `${e.pid}:${name}:${e.ok}`;
      if (seen.has(once)) return [];
      seen.add(once);
      const severity: Severity = kind === 'downloader' ? 'high' : 'medium';
      const argv = e.argv.join(' ').slice(0, 300);
      const items = [{ key: `${kind}:${name}`, severity, title: `${phase} spawns ${article(kind)} ${kind}: ${name}`, ev: ref(e, phase, `exec ${e.path} [${argv}]${e.ok ? '' : ` (${e.errno})`}`) }];
      // A shell's `-c` script names the programs it will run, even those it then fails to find
      // (dash searches $PATH with stat, so a missing curl is never exec'd).
      if (kind === 'shell') {
        for (const prog of shellScriptPrograms(e.argv)) {
          const k = DOWNLOADERS.has(prog) ? 'downloader' : INTERPRETERS.has(prog) ? 'interpreter' : null;
          if (!k) continue;
          items.push({ key: `${k}:${prog}`, severity: k === 'downloader' ? 'high' : 'medium', title: `${phase} spawns ${article(k)} ${k}: ${prog}`, ev: ref(e, phase, `${name} -c runs ${prog}: [${argv}]`) });
        }
      }
      return items;
    }));
  },
};
