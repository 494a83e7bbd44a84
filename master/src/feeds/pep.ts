/**
 * Names and versions as the Python packaging standards define them: PEP 503 name normalization (the
 * slave's, shared) and PEP 440 version validity and ordering (via the maintained `@renovatebot/pep440`).
 */
import { compare, valid } from '@renovatebot/pep440';
import { normalizeProject } from '@pyti/common';

/** PEP 503 normalized name: runs of `-`, `_`, `.` become one `-`, lower case (`Foo.Bar_baz` → `foo-bar-baz`). */
export function normalizeName(name: string): string {
  return normalizeProject(name);
}

/** True when `version` is a valid PEP 440 version (`1.0`, `2.0rc1`, `1!3.0.post2.dev1+local`). */
export function isValidVersion(version: string): boolean {
  return version.length <= 200 && valid(version) !== null;
}

/**
 * PEP 440 ordering: negative when `a` < `b`, 0 when equal (`1.0` = `1.0.0`), positive when `a` > `b`.
 * A version that is not valid PEP 440 sorts before every valid one; two invalid ones compare as text.
 */
export function compareVersions(a: string, b: string): number {
  const va = isValidVersion(a);
  const vb = isValidVersion(b);
  if (va && vb) return Math.sign(compare(a, b));
  if (va !== vb) return va ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}
