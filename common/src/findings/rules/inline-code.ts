/**
 * inline-code: an interpreter given its program on the command line (`python -c`, `perl -e`,
 * `ruby -e`, `node -e`, `php -r`). Python's `-c` is common in builds (pip's setuptools shim,
 * sysconfig queries), so it counts only when the code decodes, evaluates or talks to the network.
 */
import { base, grouped, ref, type Rule } from '../rule-kit.js';
import { isPython } from '../programs.js';

const INLINE_FLAG: Record<string, string[]> = {
  perl: ['-e', '-E'], ruby: ['-e'], node: ['-e', '--eval', '-p'], nodejs: ['-e', '--eval', '-p'], php: ['-r'], lua: ['-e'],
};
/** Python code that is more than a build's query: decoding, dynamic code, sockets, HTTP, processes. */
const PY_SUSPICIOUS = /base64|b64decode|codecs\.decode|zlib|marshal|\bexec\(|\beval\(|__import__|socket|urllib|requests|http\.client|subprocess|os\.system|os\.popen|pty\.spawn|fernet/;
/** pip's and setuptools' own `-c` shims. */
const PY_BENIGN = /^import io, os, sys, setuptools, tokenize|^import sys, setuptools, tokenize|sys\.argv\[0\] = ['"][^'"]*setup\.py['"]/;

export const inlineCodeRule: Rule = {
  id: 'inline-code',
  description: 'runs an interpreter with its program on the command line (python -c with decoding/exec/network, perl -e, ruby -e, node -e, php -r)',
  severity: 'medium',
  technique: 'second stages run as `python -c "exec(base64.b64decode(...))"` or `perl -e` one-liners so that no file is left (e.g. the 2023 "setuptools-ext" and many "pip install"-time loaders)',
  run(events, phase) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'exec') return [];
      const name = base(e.path);
      let code: string | undefined;
      if (isPython(name)) {
        const c = e.argv.indexOf('-c');
        code = c > 0 ? e.argv[c + 1] : undefined;
        if (code === undefined || PY_BENIGN.test(code) || !PY_SUSPICIOUS.test(code)) return [];
      } else if (INLINE_FLAG[name]) {
        const c = e.argv.findIndex((a, i) => i > 0 && INLINE_FLAG[name]!.includes(a));
        code = c > 0 ? e.argv[c + 1] : undefined;
        if (code === undefined) return [];
      } else return [];
      return [{ key: name, severity: 'medium' as const, title: `${phase} runs inline ${name} code`, ev: ref(e, phase, `exec ${e.path} [${e.argv.join(' ').slice(0, 300)}]${e.ok ? '' : ` (${e.errno})`}`) }];
    }));
  },
};
