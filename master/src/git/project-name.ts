/**
 * The project name of a git commit, for its audit's `project`: `[project].name` of the commit's
 * top-level pyproject.toml, read as text (`git cat-file blob <commit>:pyproject.toml`, capped) — the
 * master never runs a build backend, setup.py or any other code of the repository. Only the plain
 * forms are understood (`name = "…"` or `'…'` in the `[project]` table, or `project.name = …` at
 * the top level); anything else, or a name that is not a valid project name, falls back to the
 * repository's base name. The audit's version is the commit id.
 */
import { PROJECT_NAME } from '../subscriptions/name-glob.js';

const TABLE = /^\s*\[\s*([A-Za-z0-9_.\-"' ]+?)\s*\]\s*(?:#.*)?$/;
const NAME_IN_PROJECT = /^\s*(?:"name"|'name'|name)\s*=\s*(?:"([^"\\\n]*)"|'([^'\n]*)')\s*(?:#.*)?$/;
const DOTTED_NAME = /^\s*project\s*\.\s*name\s*=\s*(?:"([^"\\\n]*)"|'([^'\n]*)')\s*(?:#.*)?$/;

/** `[project].name` of a pyproject.toml's text, or null (absent, not plain, or not a project name). */
export function projectNameFromPyproject(text: string): string | null {
  let table = '';
  let inMultiline: string | null = null;
  for (const line of text.slice(0, 1024 * 1024).split(/\r?\n/)) {
    if (inMultiline) {
      if (line.includes(inMultiline)) inMultiline = null;
      continue;
    }
    const ml = /=\s*("""|''')/.exec(line);
    if (ml && line.split(ml[1]!).length === 2) {
      inMultiline = ml[1]!;
      continue;
    }
    if (/^\s*\[\[/.test(line)) {
      table = '[[array]]';
      continue;
    }
    const t = TABLE.exec(line);
    if (t) {
      table = t[1]!.replace(/["'\s]/g, '');
      continue;
    }
    const m = table === 'project' ? NAME_IN_PROJECT.exec(line) : table === '' ? DOTTED_NAME.exec(line) : null;
    if (m) {
      const name = (m[1] ?? m[2] ?? '').trim();
      return PROJECT_NAME.test(name) ? name : null;
    }
  }
  return null;
}
