/** sensitive-write: writes into credential stores. */
import { grouped, ref, WRITE_OPS, type Rule } from '../rule-kit.js';
import { sensitivePlace } from '../places.js';

export const sensitiveWriteRule: Rule = {
  id: 'sensitive-write',
  description: 'writes into credential stores such as ~/.ssh or ~/.aws',
  severity: 'critical',
  technique: 'planting or replacing keys and credentials (an attacker key in ~/.ssh, a rewritten ~/.pypirc or ~/.aws/credentials)',
  run(events, phase, ctx) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'file' || !WRITE_OPS.has(e.op)) return [];
      const target = e.op === 'rename' && e.to ? e.to : e.path;
      const place = sensitivePlace(target, ctx);
      if (!place) return [];
      return [{ key: place, severity: 'critical' as const, title: `${phase} writes into ${place}`, ev: ref(e, phase, `${e.op} ${target}${e.ok ? '' : ` (${e.errno})`}`) }];
    }));
  },
};
