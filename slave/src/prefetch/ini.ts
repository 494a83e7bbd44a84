/**
 * A small INI reader that reads tox.ini, setup.cfg and pytest.ini the way Python's configparser
 * (which tox and setuptools use; pytest's iniconfig agrees on these points) does, without interpolation:
 *
 * - `[section]` headers; `key = value` or `key: value` (the first `=` or `:` splits; keys lowercased);
 * - a line indented deeper than its key's line continues the value (joined with `\n`), empty lines
 *   inside a value are kept and trailing ones dropped;
 * - lines whose first non-blank character is `#` or `;` are comments, also inside a multi-line value;
 *   inline comments are NOT stripped (configparser's default);
 * - lines before the first section and lines that are neither are ignored (configparser would refuse
 *   the file; a reader of untrusted files just skips them); a repeated section merges, a repeated key
 *   keeps its last value.
 *
 * Caps: at most 20 000 lines and 1 MiB of text are read.
 */

/** A parsed INI file: section name → key → value. */
export type IniFile = Map<string, Map<string, string>>;

const SECTION = /^\[(.+)\]/;
const OPTION = /^(.*?)\s*([=:])\s*(.*)$/;

/** Parses `text` (see the module comment). */
export function parseIni(text: string): IniFile {
  const out: IniFile = new Map();
  let section: Map<string, string[]> | null = null;
  const raw = new Map<string, Map<string, string[]>>();
  let key: string | null = null;
  let indent = Number.MAX_SAFE_INTEGER;
  for (const line of text.slice(0, 1024 * 1024).split(/\r\n|\r|\n/).slice(0, 20_000)) {
    const stripped = line.trim();
    if (stripped.startsWith('#') || stripped.startsWith(';')) continue;
    if (!stripped) {
      if (section && key) section.get(key)!.push('');
      continue;
    }
    const cur = line.length - line.trimStart().length;
    if (section && key && cur > indent) {
      section.get(key)!.push(stripped);
      continue;
    }
    indent = cur;
    const s = SECTION.exec(stripped);
    if (s) {
      const name = s[1]!;
      section = raw.get(name) ?? new Map();
      raw.set(name, section);
      key = null;
      continue;
    }
    const o = section ? OPTION.exec(stripped) : null;
    if (!section || !o || !o[1]) {
      key = null;
      continue;
    }
    key = o[1].trimEnd().toLowerCase();
    section.set(key, [o[3]!.trim()]);
  }
  for (const [name, opts] of raw) {
    const m = new Map<string, string>();
    for (const [k, v] of opts) m.set(k, v.join('\n').trimEnd());
    out.set(name, m);
  }
  return out;
}

/** The non-empty lines of a multi-line value, trimmed. */
export function valueLines(value: string | undefined): string[] {
  return (value ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
}
