/** Code pushed off screen: statements after a run of 100 or more spaces or tabs on a line. */
import type { RuleHit, StaticRule } from '../static-rule.js';

const RUN = /[ \t]{100,}(?=[^\s#)\]}])/;
const CODEY = /\b(?:exec|eval|import|__import__|os\.|subprocess|requests|urllib|socket|base64|open)\b|;/;

export const hiddenWhitespace: StaticRule = {
  id: 'hidden-whitespace',
  description: 'code hidden past a run of 100+ spaces or tabs on a line (off the right edge of an editor or diff view)',
  severity: 'high',
  technique: 'W4SP stealer (Nov 2022): `import os;` followed by hundreds of spaces and `__import__(\'builtins\').exec(…)` on the same line of setup.py or __init__.py',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    const hits: RuleHit[] = [];
    for (let i = 0; i < file.code.length; i++) {
      const line = file.code[i]!;
      const m = RUN.exec(line);
      if (!m) continue;
      const before = line.slice(0, m.index);
      const after = line.slice(m.index + m[0]!.length);
      // a long indent alone is not hiding (deeply nested code); hiding is code after code, or after a line's end
      if (!before.trim() && m.index === 0 && !CODEY.test(after)) continue;
      // inside a string literal (a padded table cell): the run sits between quotes
      if (/^["']/.test(after) && /["'],?\s*$/.test(before)) continue;
      const sev = CODEY.test(after) ? 'high' : 'medium';
      hits.push({ line: i, severity: file.role === 'aux' ? 'low' : sev, what: `code after ${m[0]!.length} blanks`, excerpt: `${before.trim().slice(0, 60)} ⟨${m[0]!.length} blanks⟩ ${after.slice(0, 200)}` });
    }
    return hits;
  },
};
