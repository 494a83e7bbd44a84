/** Dynamic imports that hide a process, network or exec call (__import__('os').system, getattr(__import__(…)), builtins exec). */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around, runsEarly } from '../static-rule.js';

const DYN = new RegExp([
  String.raw`__import__\s*\(\s*["'](?:os|subprocess|socket|requests|urllib\.request|urllib|http\.client|ctypes|pty|webbrowser|shutil)["']\s*\)\s*\.\s*(?:system|popen|Popen|call|run|check_output|socket|get|post|urlopen|request|spawn\w*|startfile|windll|remove|rmtree|open)\b`,
  String.raw`__import__\s*\(\s*["']builtins["']\s*\)\s*\.\s*(?:exec|eval|compile)`,
  String.raw`getattr\s*\(\s*__builtins__[^)\n]{0,40}["'](?:exec|eval)`,
  String.raw`\b(?:oct|hex|bin|copyright|credits|license|str|int|type)\s*\.\s*__(?:str|doc|name)__(?:\s*\(\s*\))?\s*\[\s*-?[\d(]`,
  String.raw`__import__\s*\(\s*["'][^"']+["']\s*\[\s*::\s*-1\s*\]`,
  String.raw`__import__\s*\(\s*(?:bytes|chr|base64|codecs)`,
].join('|'));
/** Dynamic look-ups that libraries use too (plugin loaders, dill): only weigh in files run at install/import. */
const WEAK = /getattr\s*\(\s*__builtins__\s*,\s*(?!["'])|getattr\s*\(\s*__import__\s*\(|globals\s*\(\s*\)\s*\[\s*["']__builtins__["']\s*\]/;

export const obfuscatedImport: StaticRule = {
  id: 'obfuscated-import',
  description: "dynamic imports hiding a call: __import__('os').system, __import__('builtins').exec, getattr(__import__(…)), imports of decoded or reversed names",
  severity: 'high',
  technique: "One-line droppers and W4SP loaders: __import__('builtins').exec(…), __import__('os').system('…') in setup.py/__init__.py to dodge `import os` greps",
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    const hits: RuleHit[] = [];
    for (let i = 0; i < file.code.length; i++) {
      const l = file.code[i]!;
      if (DYN.test(l)) hits.push({ line: i, severity: runsEarly(file) ? 'high' : file.role === 'aux' ? 'low' : 'medium', what: 'obfuscated dynamic import', excerpt: around(file.lines[i]!, DYN) });
      else if (WEAK.test(l)) hits.push({ line: i, severity: runsEarly(file) ? 'medium' : 'low', what: 'dynamic import or builtins look-up', excerpt: around(file.lines[i]!, WEAK) });
    }
    return hits;
  },
};
