/** A digest of a host directory tree (names, modes, contents), to show that a guest changed nothing in it. */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export function treeDigest(dir: string): string {
  const h = createHash('sha256');
  const visit = (rel: string): void => {
    const p = join(dir, rel);
    const st = lstatSync(p);
    h.update(`${rel}\0${st.mode}\0`);
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) visit(join(rel, n));
    else if (st.isSymbolicLink()) h.update(readlinkSync(p));
    else h.update(readFileSync(p));
  };
  visit('.');
  return h.digest('hex');
}
