/**
 * pip's requirement-file syntax (pip/_internal/req/req_file.py), read as data:
 *
 * - a line ending in `\` continues on the next; `#` at the start of a line or after whitespace starts
 *   a comment; blank lines are skipped;
 * - `-r FILE` / `--requirement FILE` includes another file, `-c FILE` / `--constraint FILE` names a
 *   constraints file (both relative to the including file; the caller follows them inside the sdist);
 * - `-e .[extras]`, `.[extras]` and `-e .` name the project itself (its extras); other editables,
 *   paths, archives, URLs and lines with `${VAR}` are skipped, as are all other options (`-i`,
 *   `--index-url`, `-f`, `--pre`, …);
 * - per-requirement options (`--hash=…`, `--config-settings`, …) are dropped from the requirement;
 *   markers are kept.
 */
import { posix } from 'node:path';

/** One meaningful line of a requirement file. */
export type RequirementLine =
  | { kind: 'requirement'; requirement: string }
  | { kind: 'include'; path: string }
  | { kind: 'constraint'; path: string }
  /** The project itself (`.`, `-e .[test]`): its extras. */
  | { kind: 'self'; extras: string[] }
  | { kind: 'skipped'; line: string; why: string };

const COMMENT = /(^|\s+)#.*$/;

/** pip's line joining and comment removal: the logical lines of `text`. */
export function logicalLines(text: string): string[] {
  const out: string[] = [];
  let pending: string[] = [];
  for (const line of text.slice(0, 1024 * 1024).split(/\r\n|\r|\n/).slice(0, 20_000)) {
    const commentLine = /^\s*#/.test(line);
    if (!line.endsWith('\\') || commentLine) {
      const l = commentLine ? ` ${line}` : line;
      if (pending.length) {
        pending.push(l);
        out.push(pending.join(''));
        pending = [];
      } else out.push(l);
    } else pending.push(line.replace(/^\\+|\\+$/g, ''));
  }
  if (pending.length) out.push(pending.join(''));
  return out.map((l) => l.replace(COMMENT, '').trim()).filter(Boolean);
}

const EXTRAS = /^\[([^\]]*)\]$/;

/** `.`, `./`, `.[a,b]` (optionally `file:.`): the project itself and its extras; null for anything else. */
export function selfReference(spec: string): string[] | null {
  const s = spec.trim().replace(/^file:/, '');
  const m = /^\.\/?((?:\[[^\]]*\])?)$/.exec(s);
  if (!m) return null;
  const ex = EXTRAS.exec(m[1] ?? '');
  return ex ? ex[1]!.split(',').map((e) => e.trim()).filter(Boolean) : [];
}

/** Whether a requirement spec (the part before its marker) is a path, an archive or a URL rather than a name. */
export function looksLikeLocation(spec: string): boolean {
  const head = spec.split(';')[0]!.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(head) || /^(git|hg|svn|bzr)\+/i.test(head) || head.startsWith('file:')) return true;
  if (/^[./~]/.test(head) || head.includes('/') || head.includes('\\')) return !head.includes('@'); // `name @ url` is a direct reference
  return /\.(whl|zip|tar\.gz|tgz|tar\.bz2|tar)$/i.test(head.split(/\s/)[0]!);
}

const INCLUDE = new Map([['-r', 'include'], ['--requirement', 'include'], ['-c', 'constraint'], ['--constraint', 'constraint']] as const);
const EDITABLE = new Set(['-e', '--editable']);

/** Splits `-rfile`, `--requirement=file` and `-r file` into option and value. */
function optionValue(tokens: string[]): { opt: string; value: string | undefined } {
  const t = tokens[0]!;
  const long = /^(--[a-z-]+)=(.*)$/.exec(t);
  if (long) return { opt: long[1]!, value: long[2] };
  if (/^-[a-zA-Z]./.test(t)) return { opt: t.slice(0, 2), value: t.slice(2) };
  return { opt: t, value: tokens[1] };
}

/** Parses the text of one requirement file (see the module comment). */
export function parseRequirementFile(text: string): RequirementLine[] {
  const out: RequirementLine[] = [];
  for (const line of logicalLines(text)) {
    if (line.includes('${')) {
      out.push({ kind: 'skipped', line, why: 'uses an environment variable' });
      continue;
    }
    const tokens = line.split(/\s+/);
    const firstOpt = tokens.findIndex((t) => t.startsWith('-'));
    const args = firstOpt < 0 ? tokens : tokens.slice(0, firstOpt);
    if (!args.length) {
      const { opt, value } = optionValue(tokens);
      const inc = INCLUDE.get(opt as never);
      if (inc && value) out.push({ kind: inc, path: value });
      else if (EDITABLE.has(opt) && value) {
        const self = selfReference(value);
        out.push(self ? { kind: 'self', extras: self } : { kind: 'skipped', line, why: 'an editable install of another location' });
      } else out.push({ kind: 'skipped', line, why: 'a pip option' });
      continue;
    }
    const spec = args.join(' ');
    const self = selfReference(spec);
    if (self) out.push({ kind: 'self', extras: self });
    else if (looksLikeLocation(spec)) out.push({ kind: 'skipped', line, why: 'a path, archive or URL' });
    else out.push({ kind: 'requirement', requirement: spec });
  }
  return out;
}

/** The path `ref` (from a `-r` in the file `from`, both relative to the sdist root), normalized; null when it leaves the sdist. */
export function resolveIncluded(from: string, ref: string): string | null {
  if (ref.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(ref)) return null;
  const joined = posix.normalize(posix.join(posix.dirname(from), ref));
  return joined === '.' || joined.startsWith('../') || joined === '..' ? null : joined;
}
