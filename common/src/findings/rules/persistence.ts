/** persistence: writes to start-up files, cron, systemd units, autostart entries or authorized_keys. */
import { grouped, ref, WRITE_OPS, type Rule } from '../rule-kit.js';
import { persistencePlace } from '../places.js';
import type { Severity } from '../finding.js';

export const persistenceRule: Rule = {
  id: 'persistence',
  description: 'writes to shell start-up files, cron, systemd units, autostart entries or authorized_keys',
  severity: 'critical',
  technique: 'backdoors that append to ~/.bashrc, drop cron or systemd units, or add an SSH key to authorized_keys (e.g. the 2023 "colorslib" family; ld.so.preload rootkits)',
  run(events, phase, ctx) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'file' || !WRITE_OPS.has(e.op) || e.op === 'delete') return [];
      const target = e.op === 'rename' && e.to ? e.to : e.path;
      const place = persistencePlace(target, ctx);
      if (!place) return [];
      const severity: Severity = place.includes('authorized_keys') || place.includes('ld.so.preload') ? 'critical' : 'high';
      return [{ key: place, severity, title: `${phase} installs persistence in ${place}`, ev: ref(e, phase, `${e.op} ${target}${e.ok ? '' : ` (${e.errno})`}`) }];
    }));
  },
};
