/**
 * The name globs of `pattern` subscriptions: `*` (any run of characters) and `?` (one character)
 * over PEP 503 normalized names; the pattern is normalized like a name (lower case, runs of `-`, `_`,
 * `.` become `-`), so `Django_*` and `django-*` are the same pattern.
 */
import { normalizeName } from '../feeds/pep.js';

/** PEP 503 normalization (the feed readers'). */
export const normalizeProjectName = normalizeName;

/** A project name as PyPI accepts it (before normalization). */
export const PROJECT_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$/;
/** A name glob: name characters and the wildcards `*` and `?`. */
export const NAME_GLOB = /^[A-Za-z0-9._*?-]{1,200}$/;

/** The normalized form of a glob (wildcards kept). */
export function normalizeGlob(glob: string): string {
  return glob.toLowerCase().replace(/[-_.]+/g, '-');
}

/** A matcher of normalized names for a normalized glob. */
export function globMatcher(glob: string): (normalized: string) => boolean {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${source}$`);
  return (name) => re.test(name);
}
