/**
 * Distribution file names that arrive from elsewhere (the index's JSON, a user's upload through the
 * master) and become host paths on the slave.
 *
 * Security: such a name is used as a path only after `safeDistFilename` has accepted it: one path
 * segment of a conservative character set, no `..`, ending in `.tar.gz` or `.whl`.
 */

const SAFE = /^[A-Za-z0-9][A-Za-z0-9._+!-]{0,250}\.(tar\.gz|zip|whl)$/;

/** Whether `name` may be used as a file name on the host for a distribution. */
export function safeDistFilename(name: unknown): name is string {
  return typeof name === 'string' && SAFE.test(name) && !name.includes('..') && !name.includes('/');
}

/** Whether a wheel's file name says it is pure Python 3 for any platform (`py3-none-any`, `py2.py3-none-any`). */
export function isPureWheel(name: string): boolean {
  const m = /-([^-]+)-([^-]+)-([^-]+)\.whl$/.exec(name);
  return !!m && m[1]!.split('.').includes('py3') && m[2] === 'none' && m[3] === 'any';
}
