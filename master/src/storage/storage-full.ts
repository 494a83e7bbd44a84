/**
 * A full data disk, recognised: SQLite's `SQLITE_FULL` (and the write errors it reports when the
 * journal or WAL cannot grow), and the file system's `ENOSPC` / `EDQUOT` from blob and temp-file
 * writes. The master then refuses writes with `PYTI_STORAGE_FULL` (HTTP 507) and keeps serving reads;
 * nothing is kept in a "full" state, so the first write after space returns succeeds.
 */
import { PytiError } from '@pyti/vm-agent';

/** Error codes that mean "no space left" (SQLite's extended codes start with the primary one). */
const FULL_CODES = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);

/** HTTP status of `PYTI_STORAGE_FULL` answers: 507 Insufficient Storage. */
export const STORAGE_FULL_STATUS = 507;

/** The code of an error or of one of its causes (at most 5 deep) that means the disk is full, else null. */
export function storageFullCode(err: unknown): string | null {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    if (e instanceof PytiError && e.code === 'PYTI_STORAGE_FULL') return e.code;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (FULL_CODES.has(code)) return code;
      if (code.startsWith('SQLITE_FULL')) return code;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/** Whether `err` (or a cause of it) says the data disk is full. */
export function isStorageFull(err: unknown): boolean {
  return storageFullCode(err) !== null;
}

/**
 * `err` as a `PYTI_STORAGE_FULL` error about `what` (e.g. `storing the report`), the original as its
 * cause; `err` itself when it is one already. Precondition: `isStorageFull(err)`.
 */
export function storageFullError(err: unknown, what: string): PytiError {
  if (err instanceof PytiError && err.code === 'PYTI_STORAGE_FULL') return err;
  return new PytiError('PYTI_STORAGE_FULL',
    `${what}: the master's data disk is full (${storageFullCode(err) ?? 'no space'}); writes are refused until space is freed`, { cause: err });
}

/** One line for a log: `PYTI_STORAGE_FULL: …` for a full disk, else `CODE: message` or the message. */
export function describeFailure(err: unknown, what: string): string {
  if (isStorageFull(err)) return `PYTI_STORAGE_FULL: ${storageFullError(err, what).message}`;
  const code = (err as { code?: unknown } | null)?.code;
  const message = (err as { message?: unknown } | null)?.message;
  return `${what}: ${typeof code === 'string' ? `${code}: ` : ''}${typeof message === 'string' ? message : String(err)}`;
}
