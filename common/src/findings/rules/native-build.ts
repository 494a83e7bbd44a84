/** native-build: a C/C++ compiler ran. */
import { base, ref, type Rule } from '../rule-kit.js';

export const compilerRule: Rule = {
  id: 'native-build',
  description: 'a C/C++ compiler ran (the package has native code)',
  severity: 'info',
  technique: 'not malicious by itself: native extensions hide logic from source review, so reviewers want to know',
  run(events, phase) {
    const first = events.find((e) => e.kind === 'exec' && e.ok && /(^|-)(gcc|g\+\+|cc|c\+\+|clang)(-\d+)?$/.test(base(e.path)));
    return first ? [{ rule: this.id, severity: 'info', phase, title: `${phase} compiles native code`, evidence: [ref(first, phase, `exec ${(first as { path: string }).path}`)] }] : [];
  },
};
