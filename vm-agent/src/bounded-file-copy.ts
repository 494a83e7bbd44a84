/**
 * One regular file copied without following links and within a byte budget: what the agent's seeding
 * of provided data (provided-data.ts) and the host's copy of a sandbox's data (slave's
 * provided-data-copy.ts) both do with untrusted trees.
 *
 * Security: the source is opened with O_NOFOLLOW and O_NONBLOCK (a fifo swapped in after the caller's
 * lstat neither blocks nor is read) and must still be a regular file once open; the target is created
 * afresh (O_EXCL, O_NOFOLLOW), so nothing already there, link or file, is written through.
 */
import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';

/** Why a copy was refused, for the caller's own error. */
export type CopyRefusal = 'changed' | 'too-large';

/**
 * Copies `from` to the new file `to` (created with `mode`); returns the bytes copied. Throws
 * `refuse('changed')` when `from` is no longer a regular file, `refuse('too-large')` past `budget`
 * bytes (the partial target stays for the caller to remove with the rest of its copy).
 */
export function copyRegularFile(from: string, to: string, mode: number, budget: number, refuse: (why: CopyRefusal) => Error): number {
  const fd = openSync(from, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  let out: number | undefined;
  try {
    if (!fstatSync(fd).isFile()) throw refuse('changed');
    out = openSync(to, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > budget) throw refuse('too-large');
      writeSync(out, buf, 0, n);
    }
    return total;
  } finally {
    closeSync(fd);
    if (out !== undefined) closeSync(out);
  }
}
