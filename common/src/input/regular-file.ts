/** The input file checks every reader of a distribution starts with. */
import { statSync, type Stats } from 'node:fs';
import { PytiError } from '@pyti/vm-agent';

/** Stats `path`, which must be a regular file; throws PYTI_INPUT_NOT_FOUND otherwise. */
export function statRegularFile(path: string): Stats {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new PytiError('PYTI_INPUT_NOT_FOUND', `${path}: no such file`, { cause: err });
  }
  if (!st.isFile()) throw new PytiError('PYTI_INPUT_NOT_FOUND', `${path}: not a regular file`);
  return st;
}
