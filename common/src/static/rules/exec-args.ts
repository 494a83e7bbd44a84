/** Helpers for the exec rules: which names a file assigns from a pattern, and what name an exec runs. */
import type { SourceFile } from '../source-file.js';
import { EXEC_CALL } from '../patterns.js';

const ASSIGN = /^\s*([A-Za-z_]\w*)\s*(?:\+?=)(?!=)\s*(.*)$/;
const DEF = /^(\s*)def\s+([A-Za-z_]\w*)\s*\(/;

/**
 * Functions of the file whose body matches `re` and that return something (`def b64d(s): … return
 * base64.b64decode(s)`): calls of them count as the pattern too.
 */
export function functionsMatching(file: SourceFile, re: RegExp): string[] {
  const out: string[] = [];
  for (let i = 0; i < file.code.length; i++) {
    const m = DEF.exec(file.code[i]!);
    if (!m) continue;
    const ind = file.indent[i]!;
    let hit = false;
    let ret = false;
    for (let j = i + 1; j < file.code.length && j < i + 60; j++) {
      const l = file.code[j]!;
      if (l.trim() && file.indent[j]! <= ind) break;
      if (re.test(l)) hit = true;
      if (/^\s*return\b/.test(l)) ret = true;
    }
    if (hit && ret) out.push(m[2]!);
  }
  return out;
}

/** `re` widened with calls of the file's functions that wrap it. */
export function withWrappers(file: SourceFile, re: RegExp): RegExp {
  const fns = functionsMatching(file, re);
  // decoders imported under another name: from base64 import b64decode as dec; import zlib as z
  for (const m of file.codeText.matchAll(/\bfrom\s+(?:base64|zlib|marshal|codecs|binascii|lzma|bz2|gzip)\s+import\s+\w+\s+as\s+([A-Za-z_]\w*)|\bimport\s+(?:base64|zlib|marshal|codecs|binascii|lzma|bz2|gzip)\s+as\s+([A-Za-z_]\w*)/g)) {
    if (m[1]) fns.push(m[1]);
    if (m[2]) fns.push(`${m[2]}\\s*\\.\\s*\\w+`);
  }
  return fns.length ? new RegExp(`${re.source}|(?:^|[^\\w.])(?:${fns.slice(0, 50).join('|')})\\s*\\(`) : re;
}

/** Names assigned (or augmented) somewhere in the file from an expression matching `re`, with the first such line. */
export function assignedFrom(file: SourceFile, re: RegExp): Map<string, number> {
  const out = new Map<string, number>();
  let changed = true;
  // two passes: a name assigned from a tainted name is tainted too (x = b64decode(s); y = x.decode())
  for (let pass = 0; pass < 2 && changed; pass++) {
    changed = false;
    for (let i = 0; i < file.code.length; i++) {
      const m = ASSIGN.exec(file.code[i]!);
      if (!m || out.has(m[1]!)) continue;
      const rhs = m[2]!;
      let tainted = re.test(rhs);
      if (!tainted && out.size) for (const n of out.keys()) if (new RegExp(`\\b${n}\\b`).test(rhs)) { tainted = true; break; }
      if (tainted) {
        out.set(m[1]!, i);
        changed = true;
      }
    }
  }
  return out;
}

/** The bare name an exec/eval/compile call runs (`exec(code)`, `exec(compile(code, …))`, `exec(x.decode())`), or null. */
export function execOf(callText: string): string | null {
  const m = /^[^(]*\(\s*\(?\s*(?:compile\s*\(\s*)?([A-Za-z_]\w*)\s*\)?\s*(?:[,)(]|\.\s*(?:decode|encode)\s*\()/.exec(callText);
  if (!m || ['open', 'f', 'fh', 'fp', 'self', 'None', 'True', 'False'].includes(m[1]!)) return null;
  return m[1]!;
}

/** One exec/eval/compile call of a file: its code line's index, the call's text onwards, and the bare name it runs. */
export interface ExecCall {
  line: number;
  arg: string;
  name: string | null;
}

/** The exec/eval/compile calls of a file's code lines, in order. */
export function execCalls(file: SourceFile): ExecCall[] {
  const out: ExecCall[] = [];
  file.code.forEach((line, i) => {
    const m = EXEC_CALL.exec(line);
    if (!m) return;
    const arg = line.slice(m.index);
    out.push({ line: i, arg, name: execOf(arg) });
  });
  return out;
}
