/** A version number far above any real release (99+), the mark of dependency-confusion probes. */
import type { StaticRule } from '../static-rule.js';

export const suspiciousVersion: StaticRule = {
  id: 'suspicious-version',
  description: 'a version whose major number is 99 or more (e.g. 999.0.0): chosen to win over an internal index',
  severity: 'low',
  technique: 'Dependency-confusion probes publish internal package names at 99.x/999.x so pip prefers them (Birsan 2021 and copies)',
  run(file) {
    if (file.role !== 'metadata') return [];
    for (let i = 0; i < file.lines.length && i < 40; i++) {
      const m = /^Version:\s*(\d+)\./.exec(file.lines[i]!);
      if (m && Number(m[1]!) >= 99 && Number(m[1]!) < 1900) return [{ line: i, severity: 'low', what: `version ${file.lines[i]!.slice(9).trim()}` }];
    }
    return [];
  },
};
