/**
 * A submitted distribution's version must be valid PEP 440 (`1..0`, `1.0 final` are not): PyPI
 * refuses such uploads and pip cannot install them, so an audit of one would only report a failure
 * of PyTI's own making. Checked on submission (upload, zip, by name), not on files the index serves.
 */
import { PytiError } from '@pyti/vm-agent';
import { isValidVersion } from '../index-client/pep440.js';

/** Throws PYTI_INPUT_BAD_VERSION unless `version` is a valid PEP 440 version; `where` says whose it is. */
export function checkPep440Version(version: string, where: string): void {
  if (isValidVersion(version)) return;
  throw new PytiError('PYTI_INPUT_BAD_VERSION', `${where}: version ${JSON.stringify(version.slice(0, 100))} is not a valid PEP 440 version (e.g. 1.0, 2.0rc1, 1.0.post1)`);
}
