/**
 * The layout of a git job's source archive (the master's `git archive --prefix=source/`): every
 * member lies under GIT_ARCHIVE_PREFIX. The master checks archives it makes, the slave those it fetches.
 */
import { GIT_ARCHIVE_PREFIX } from './command-protocol.js';

/** Why a member of the archive is not under `source/`, or null; a `validateTarGz` member check (directory names come without their trailing slash). */
export function outsidePrefix(name: string): string | null {
  const n = name.replace(/^\.\//, '');
  return n === GIT_ARCHIVE_PREFIX || n === `${GIT_ARCHIVE_PREFIX}/` || n.startsWith(`${GIT_ARCHIVE_PREFIX}/`) ? null : `is outside the archive's ${GIT_ARCHIVE_PREFIX}/ directory`;
}
