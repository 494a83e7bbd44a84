/** sensitive-read: opens credentials, keys, shadow files or browser profiles for reading. */
import { grouped, ref, type Rule } from '../rule-kit.js';
import { sensitivePlace } from '../places.js';

export const sensitiveReadRule: Rule = {
  id: 'sensitive-read',
  description: 'reads (or tries to read) credentials, keys, shadow files or browser profiles',
  severity: 'high',
  technique: 'credential stealers read ~/.ssh/id_rsa, ~/.aws/credentials, browser "Login Data" and /proc/*/environ (e.g. the 2022 W4SP and 2023 "aiohttp-proxies" stealers)',
  run(events, phase, ctx) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'file' || e.op !== 'read') return [];
      const place = sensitivePlace(e.path, ctx);
      // A process reading its own environment (psutil's Process().environ()) reads nothing it did not have.
      if (!place || e.path === `/proc/${e.pid}/environ`) return [];
      return [{ key: place, severity: 'high' as const, title: `${phase} reads ${place}`, ev: ref(e, phase, `read ${e.path}${e.ok ? '' : ` (${e.errno})`}`) }];
    }));
  },
};
