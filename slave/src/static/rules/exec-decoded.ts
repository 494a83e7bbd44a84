/** exec/eval/compile of decoded data: base64, zlib/lzma/bz2, marshal, rot13, hex, Fernet, reversed strings. */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';
import { DECODER, EXEC_CALL } from '../patterns.js';
import { assignedFrom, execOf } from './exec-args.js';

export const execDecoded: StaticRule = {
  id: 'exec-decoded',
  description: 'exec/eval/compile of data decoded at run time (base64, zlib, marshal, rot13, hex, Fernet, reversed string)',
  severity: 'high',
  technique: 'W4SP/Wasp stealer and its forks: exec(base64.b64decode(…)) or exec(zlib.decompress(…)) in setup.py or __init__.py (PyPI 2022–2024); marshal/Fernet-wrapped loaders',
  run(file) {
    const hits: RuleHit[] = [];
    const decoded = assignedFrom(file, DECODER);
    for (let i = 0; i < file.code.length; i++) {
      const line = file.code[i]!;
      const m = EXEC_CALL.exec(line);
      if (!m) continue;
      const arg = line.slice(m.index);
      if (DECODER.test(arg)) {
        hits.push({ line: i, severity: 'high', what: 'exec of decoded data', excerpt: around(file.lines[i]!, EXEC_CALL) });
        continue;
      }
      const v = execOf(arg);
      if (v && decoded.has(v)) hits.push({ line: i, severity: 'high', what: `exec of ${v}, decoded on line ${decoded.get(v)! + 1}`, excerpt: around(file.lines[i]!, EXEC_CALL) });
    }
    return hits;
  },
};
