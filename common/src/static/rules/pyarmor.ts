/** PyArmor-protected (encrypted) code in a distribution. */
import type { StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';

const ARMOR = /\b(?:__pyarmor__|pytransform|pyarmor_runtime\w*)\b/;

export const pyarmor: StaticRule = {
  id: 'pyarmor',
  description: 'PyArmor-encrypted code (__pyarmor__, pytransform, pyarmor_runtime): the source cannot be reviewed',
  severity: 'medium',
  technique: 'Stealers shipped as PyArmor-obfuscated modules on PyPI (2023–2024 "pyarmor_runtime" droppers)',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    for (let i = 0; i < file.code.length; i++) {
      if (ARMOR.test(file.code[i]!)) return [{ line: i, severity: file.role === 'aux' ? 'low' : 'medium', what: 'PyArmor loader', excerpt: around(file.lines[i]!, ARMOR) }];
    }
    return [];
  },
};
