/**
 * An upload's file name must agree with the archive's own metadata: `requests-2.32.3.tar.gz` whose
 * PKG-INFO says `Name: evil` / `Version: 0.1` is refused (400 `PYTI_UPLOAD_NAME_MISMATCH`), so the
 * audit list cannot show an audit under a name and version that are not the package's.
 *
 * Rules (the packaging specifications'): a wheel is `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`;
 * an sdist is `{name}-{version}.tar.gz` (or a legacy `.zip`), where a legacy name may itself contain
 * `-`. Names compare PEP 503-normalized (`Foo.Bar_baz` = `foo-bar-baz`), versions by PEP 440
 * equality (`1.0` = `1.0.0`; invalid versions compare as lower-case text).
 */
import { PytiError } from '@pyti/vm-agent';
import { compareVersions, isValidVersion, normalizeName } from '../feeds/pep.js';

/** Whether two versions are the same release (PEP 440 equality, else case-insensitive text). */
export function sameVersion(a: string, b: string): boolean {
  if (isValidVersion(a) && isValidVersion(b)) return compareVersions(a, b) === 0;
  return a.toLowerCase() === b.toLowerCase();
}

/** Whether `filename` (a checked distribution file name) names project `name` at `version`. */
export function filenameMatches(filename: string, name: string, version: string): boolean {
  const wanted = normalizeName(name);
  if (filename.endsWith('.whl')) {
    const parts = filename.slice(0, -'.whl'.length).split('-');
    if (parts.length !== 5 && parts.length !== 6) return false;
    // Wheel file names escape `-` in the version as `_`.
    return normalizeName(parts[0]!) === wanted && sameVersion(parts[1]!.replace(/_/g, '-'), version);
  }
  const stem = filename.replace(/\.(tar\.gz|zip)$/, '');
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    if (normalizeName(stem.slice(0, i)) === wanted && sameVersion(stem.slice(i + 1), version)) return true;
  }
  return false;
}

/** Throws `PYTI_UPLOAD_NAME_MISMATCH` when `filename` does not name the archive's own project and version. */
export function checkUploadName(filename: string, meta: { name: string; version: string }): void {
  if (filenameMatches(filename, meta.name, meta.version)) return;
  throw new PytiError('PYTI_UPLOAD_NAME_MISMATCH',
    `${filename}: the file name does not match the archive's own metadata, which says ${JSON.stringify(meta.name.slice(0, 200))} version ${JSON.stringify(meta.version.slice(0, 100))}; upload it under its own name`);
}
