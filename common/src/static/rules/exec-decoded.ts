/** exec/eval/compile, a process start or a network call on data decoded at run time. */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';
import { DECODER, EXEC_CALL, NET_CALL, PROC_CALL } from '../patterns.js';
import { assignedFrom, execOf, withWrappers } from './exec-args.js';

const MARSHAL = /\bmarshal\s*\.\s*loads\s*\(/;

/** The first argument's bare name of a call at the start of `text`. */
function argName(text: string): string | null {
  const m = /^[^(]*\(\s*(?:url\s*=\s*)?([A-Za-z_]\w*)\s*(?:[,)\]]|\.\s*(?:decode|encode)\s*\()/.exec(text);
  return m ? m[1]! : null;
}

export const execDecoded: StaticRule = {
  id: 'exec-decoded',
  description: 'exec/eval/compile, os.system/subprocess, or a network call whose code, command or URL is decoded at run time (base64, zlib, marshal, rot13, hex, XOR, Fernet, reversed string)',
  severity: 'high',
  technique: 'W4SP/Wasp stealer and its forks: exec(base64.b64decode(…)) or exec(zlib.decompress(…)) in setup.py or __init__.py (PyPI 2022–2024); os.system(b64d("…")) post-install hooks; requests.get(base64-decoded URL) stage fetches',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    const hits: RuleHit[] = [];
    const dec = withWrappers(file, DECODER);
    const decoded = assignedFrom(file, dec);
    for (let i = 0; i < file.code.length; i++) {
      const line = file.code[i]!;
      for (const [re, kind] of [[EXEC_CALL, 'exec'], [MARSHAL, 'marshal.loads'], [PROC_CALL, 'process start'], [NET_CALL, 'network call']] as const) {
        const m = re.exec(line);
        if (!m) continue;
        const arg = line.slice(m.index);
        const v = kind === 'exec' ? execOf(arg) : argName(arg);
        const direct = dec.test(kind === 'marshal.loads' ? arg.slice(6) : arg) && (kind === 'exec' || !/^[^(]*\([^)]*\)\s*\.\s*(?:json|text|content)/.test(arg));
        if (!direct && !(v && decoded.has(v) && kind !== 'marshal.loads')) continue;
        const sev = kind === 'network call' ? (file.role === 'aux' ? 'low' : 'medium') : file.role === 'aux' ? 'medium' : 'high';
        hits.push({ line: i, severity: sev, what: `${kind} of decoded data${!direct && v ? ` (${v}, line ${decoded.get(v)! + 1})` : ''}`, excerpt: around(file.lines[i]!, re) });
        break;
      }
    }
    return hits;
  },
};
