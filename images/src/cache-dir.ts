/**
 * Where PyTI keeps built artifacts outside the repository: `$PYTI_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/pyti`, else `~/.cache/pyti`.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PYTI_CACHE_DIR) return env.PYTI_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pyti');
}
