/** pipe-to-shell: a shell script that pipes a download or a decoder into a shell or interpreter. */
import { base, grouped, ref, type Rule } from '../rule-kit.js';
import { SHELLS, shellScript } from '../programs.js';

const SOURCE = /\b(curl|wget|base64\s+(-d|--decode|-D)|openssl\s+(enc|base64)\b[^|]*-d|xxd\s+-r|uudecode|gunzip|zcat|rev)\b/;
const SINK = /\|\s*(sudo\s+)?(\/\S*\/)?(sh|bash|dash|zsh|ash|ksh|python[\d.]*|perl|ruby|node|php)\b/;

export const pipeToShellRule: Rule = {
  id: 'pipe-to-shell',
  description: 'a shell -c script that pipes a download or a decoder (base64 -d, xxd -r, openssl -d) into a shell or interpreter',
  severity: 'high',
  technique: '`echo <base64> | base64 -d | sh` and `curl … | bash` stagers in setup.py (e.g. the 2023 "xrpl-py" look-alikes and many typosquats)',
  run(events, phase) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'exec' || !SHELLS.has(base(e.path))) return [];
      const script = shellScript(e.argv);
      if (!script || !SOURCE.test(script) || !SINK.test(script)) return [];
      const src = SOURCE.exec(script)![1]!.split(/\s+/)[0]!;
      return [{ key: src, severity: 'high' as const, title: `${phase} pipes ${src} into a shell`, ev: ref(e, phase, `exec ${e.path} [${e.argv.join(' ').slice(0, 300)}]`) }];
    }));
  },
};
