/** exec/eval of an opaque payload: a long literal, a string built from chunks or character codes. */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';
import { EXEC_CALL } from '../patterns.js';
import { execCalls } from './exec-args.js';

const OPAQUE = /^[^(]*\(\s*(?:[rbu]?["'][^\n]{120}|["']{2}\s*\.\s*join\s*\(\s*(?:\[|\(|map\s*\(|chr\b|reversed\b|\w+\s*\[\s*::)|\s*(?:bytes|bytearray)\s*\(|chr\s*\(|[\w.]+\s*\.\s*replace\s*\(\s*["'][^"']*["']\s*,\s*["']{2}\))/;

export const execObfuscated: StaticRule = {
  id: 'exec-obfuscated',
  description: 'exec/eval of an opaque payload: a literal over 120 characters, a join of chunks or character codes, or a name built from many pieces',
  severity: 'medium',
  technique: 'Obfuscated loaders (BlankOBF, Hyperion, pyobfuscate-style) that exec a string assembled from chunks or chr() codes in setup.py or a package module',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    const hits: RuleHit[] = [];
    const chunks = new Map<string, number>();
    for (const l of file.code) {
      const m = /^\s*([A-Za-z_]\w*)\s*\+=\s*[rbu]?["']/.exec(l);
      if (m) chunks.set(m[1]!, (chunks.get(m[1]!) ?? 0) + 1);
    }
    for (const { line: i, arg, name: v } of execCalls(file)) {
      if (OPAQUE.test(arg) || (v && (chunks.get(v) ?? 0) >= 3)) {
        hits.push({ line: i, severity: file.role === 'aux' ? 'low' : 'medium', what: 'exec of an opaque payload', excerpt: around(file.lines[i]!, EXEC_CALL) });
      }
    }
    return hits;
  },
};
