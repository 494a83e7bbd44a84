/**
 * A distribution file as the static rules read it: its raw lines, the same lines with comments and
 * bare string statements (docstrings) blanked, each line's indentation, and the file's role
 * (setup script, package `__init__`, `.pth`, metadata, …). A small hand lexer: it never executes
 * anything and is linear in the file's size.
 */

/** What a file is to the distribution (decides how much a match weighs). */
export type FileRole = 'setup' | 'init' | 'pth' | 'module' | 'aux' | 'metadata' | 'config';

/** One decoded file of the distribution, prepared for the rules. */
export interface SourceFile {
  /** Path inside the archive. */
  path: string;
  role: FileRole;
  /** Raw lines (no line ends). */
  lines: string[];
  /** Lines with comments and docstrings blanked (same count as `lines`). */
  code: string[];
  /** Leading-whitespace width of each raw line (0 = module level, when it is code). */
  indent: number[];
  /** The code lines joined with `\n` (for whole-file look-ups). */
  codeText: string;
  /**
   * Whether each line runs when the module is imported: outside any def/class body, or in the body
   * of a top-level function that module-level code calls (`def run(): …` then `run()`).
   */
  atImport: boolean[];
}

const AUX_DIR = /(^|\/)(tests?|testing|docs?|examples?|samples?|benchmarks?|demos?|scripts|tools)\//i;

/** The role of an archive path (`evil-1.0/setup.py` is `setup`; a wheel has none). */
export function roleOf(path: string): FileRole {
  const p = path.replace(/\\/g, '/').replace(/^\.\//, '');
  const base = p.slice(p.lastIndexOf('/') + 1);
  const depth = p.split('/').length;
  if (base === 'PKG-INFO' || base === 'METADATA' || base === 'entry_points.txt') return 'metadata';
  if (base === 'setup.cfg' || base === 'pyproject.toml') return 'config';
  if (base.endsWith('.pth')) return 'pth';
  if (/^setup[\w.-]*\.py$/i.test(base) && depth <= 2) return 'setup';
  if (AUX_DIR.test(p)) return 'aux';
  if (base === '__init__.py') return 'init';
  return 'module';
}

/** Prepares one file's text for the rules. */
export function sourceFile(path: string, text: string): SourceFile {
  const lines = text.split(/\r\n|\r|\n/);
  const code = blankNonCode(text, lines.length);
  const indent = lines.map((l) => /^[ \t]*/.exec(l)![0].replace(/\t/g, '    ').length);
  return { path, role: roleOf(path), lines, code, indent, codeText: code.join('\n'), atImport: importTimeLines(code, indent) };
}

/** See SourceFile.atImport. */
function importTimeLines(code: string[], indent: number[]): boolean[] {
  const n = code.length;
  const out = new Array<boolean>(n).fill(true);
  const owner = new Array<string | null>(n).fill(null); // top-level def a line belongs to
  let blockIndent = -1;
  let blockName: string | null = null;
  let depth = 0; // open brackets carried from earlier lines: continuation lines keep the state
  for (let i = 0; i < n; i++) {
    const l = code[i]!;
    const cont = depth > 0;
    for (const ch of l.replace(/(["'])(?:\\.|(?!\1).)*\1/g, '')) {
      if (ch === '(' || ch === '[' || ch === '{') depth++;
      else if ((ch === ')' || ch === ']' || ch === '}') && depth > 0) depth--;
    }
    if (cont && i > 0) {
      out[i] = out[i - 1]!;
      owner[i] = owner[i - 1]!;
      continue;
    }
    if (!l.trim()) {
      if (blockIndent >= 0) out[i] = false;
      continue;
    }
    const ind = indent[i]!;
    if (blockIndent >= 0 && ind > blockIndent) {
      out[i] = false;
      owner[i] = blockName;
      continue;
    }
    blockIndent = -1;
    blockName = null;
    const m = /^\s*(?:async\s+)?(def|class)\s+([A-Za-z_]\w*)/.exec(l);
    if (m) {
      blockIndent = ind;
      blockName = m[1] === 'def' && ind === 0 ? m[2]! : null;
    }
  }
  const called = new Set<string>();
  for (let i = 0; i < n; i++) {
    if (!out[i] || /^\s*(?:async\s+)?(?:def|class)\s/.test(code[i]!)) continue;
    for (const m of code[i]!.matchAll(/(?:^|[^\w.])([A-Za-z_]\w*)\s*\(/g)) called.add(m[1]!);
    for (const m of code[i]!.matchAll(/\btarget\s*=\s*([A-Za-z_]\w*)/g)) called.add(m[1]!);
  }
  for (let i = 0; i < n; i++) if (owner[i] && called.has(owner[i]!)) out[i] = true;
  return out;
}

/**
 * The text's lines with comments removed and the contents of bare string statements (a string that
 * starts a logical line: docstrings) replaced by spaces; other strings are kept (URLs and payloads
 * live there).
 */
function blankNonCode(text: string, nLines: number): string[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  const n = text.length;
  // true while nothing but whitespace has been seen on the current logical line
  let lineStart = true;
  let depth = 0; // bracket depth: a string inside brackets is never a bare statement
  const newline = (): void => {
    out.push(cur);
    cur = '';
  };
  while (i < n) {
    const c = text[i]!;
    if (c === '\r' || c === '\n') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (depth === 0 && !cur.endsWith('\\')) lineStart = true;
      newline();
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n' && text[i] !== '\r') i++;
      continue;
    }
    if (c === '"' || c === "'") {
      // string prefix letters (r, b, f, u) were already copied; find the literal's end
      const triple = text[i + 1] === c && text[i + 2] === c;
      const q = triple ? c + c + c : c;
      const bare = lineStart && depth === 0;
      let j = i + q.length;
      while (j < n) {
        const d = text[j]!;
        if (d === '\\') {
          j += 2;
          continue;
        }
        if (!triple && (d === '\n' || d === '\r')) break;
        if (text.startsWith(q, j)) {
          j += q.length;
          break;
        }
        j++;
      }
      const lit = text.slice(i, Math.min(j, n));
      const parts = lit.split(/\r\n|\r|\n/);
      for (let k = 0; k < parts.length; k++) {
        if (k > 0) newline();
        const part = parts[k]!;
        cur += bare ? part.replace(/[^\s]/g, ' ') : part;
      }
      lineStart = false;
      i = j;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if ((c === ')' || c === ']' || c === '}') && depth > 0) depth--;
    if (c === ';') lineStart = true;
    else if (c !== ' ' && c !== '\t' && !(lineStart && /[rbfuRBFU]/.test(c) && /["'rbRB]/.test(text[i + 1] ?? ''))) lineStart = false;
    cur += c;
    i++;
  }
  out.push(cur);
  while (out.length < nLines) out.push('');
  return out.slice(0, nLines);
}
