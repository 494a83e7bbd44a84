/** unexpected-write: writes outside the places a build or install may write. */
import { grouped, ref, WRITE_OPS, type Rule } from '../rule-kit.js';
import { allowedWrite, inHome, persistencePlace, sensitivePlace } from '../places.js';

export const unexpectedWriteRule: Rule = {
  id: 'unexpected-write',
  description: 'writes outside the places a build or install may write (venv, build tree, temp dirs, pip cache)',
  severity: 'medium',
  technique: 'droppers that write payloads to ~/.local/bin, /usr/local or the user\'s home (e.g. the 2023 "pyobfgood" family dropping a binary next to the user\'s files)',
  run(events, phase, ctx) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'file' || !WRITE_OPS.has(e.op)) return [];
      const targets = e.op === 'rename' && e.to ? [e.path, e.to] : [e.path];
      const bad = targets.find((t) => t.startsWith('/') && !allowedWrite(t, ctx));
      if (!bad || persistencePlace(bad, ctx) || sensitivePlace(bad, ctx)) return []; // reported by their own rules
      const dir = bad.slice(0, bad.lastIndexOf('/')) || '/';
      // Package code run at import or by the execute phase keeps caches and settings in the user's home
      // (~/.cache/<app>, ~/.config/<app>): shown, but low; what is dangerous there has rules of its own.
      const severity = (phase === 'import' || phase === 'execute') && inHome(bad, ctx) ? 'low' as const : 'medium' as const;
      return [{ key: dir, severity, title: `${phase} writes outside the install locations: ${dir}`, ev: ref(e, phase, `${e.op} ${bad}${e.ok ? '' : ` (${e.errno})`}`) }];
    }));
  },
};
