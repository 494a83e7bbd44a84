/**
 * PEP 440 versions as an index lists them: validity, ordering and pre-release status, for choosing
 * the latest release of a project from its Simple API page. The parsing and ordering are the
 * maintained `@renovatebot/pep440` (a port of `packaging.version`, also used by the master's feeds).
 */
import { compare, explain, valid } from '@renovatebot/pep440';

/** True when `version` is a valid PEP 440 version (`1.0`, `2.0rc1`, `1!3.0.post2.dev1+local`, also `v1.0`). */
export function isValidVersion(version: string): boolean {
  return version.length <= 200 && valid(version) !== null;
}

/** True for a pre-release or development release (`1.0a1`, `2.0rc1`, `1.0.dev3`, `1.0.post1.dev2`). */
export function isPrerelease(version: string): boolean {
  return isValidVersion(version) && explain(version)?.is_prerelease === true;
}

/**
 * PEP 440 ordering: negative when `a` < `b`, 0 when they are the same version (`1.0` = `1.0.0` =
 * `V1.0`), positive when `a` > `b`. A version that is not valid PEP 440 sorts before every valid
 * one; two invalid ones compare as text.
 */
export function compareVersions(a: string, b: string): number {
  const va = isValidVersion(a);
  const vb = isValidVersion(b);
  if (va && vb) return Math.sign(compare(a, b));
  if (va !== vb) return va ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether `a` and `b` name the same release: equal by PEP 440 when both are valid, else the same text. */
export function sameVersion(a: string, b: string): boolean {
  return isValidVersion(a) && isValidVersion(b) ? compare(a, b) === 0 : a === b;
}
