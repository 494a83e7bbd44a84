/**
 * The slot users' accounts of one process sandbox: the image's /etc/passwd and /etc/group with the
 * slot users (uids `IMAGE_UID_BASE + i`, as images/guest/recipe.sh makes them) renumbered to the
 * sandbox's own uid range, written into the job directory and mounted read-only over the image's
 * files. Tasks see the same names and homes (alex, /home/alex …) whatever range they run under.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The slot users' first uid in the guest image (VM guests run tasks under these). */
export const IMAGE_UID_BASE = 2000;

/** Renumbers ids `IMAGE_UID_BASE … +count-1` in field `fields` of each line (passwd: uid 2, gid 3; group: gid 2). */
export function renumberAccounts(text: string, fields: number[], base: number, count: number): string {
  return text.split('\n').map((line) => {
    const f = line.split(':');
    if (f.length < 3) return line;
    for (const i of fields) {
      if (!/^\d+$/.test(f[i] ?? '')) continue;
      const id = Number(f[i]);
      if (id >= IMAGE_UID_BASE && id < IMAGE_UID_BASE + count) f[i] = String(base + id - IMAGE_UID_BASE);
    }
    return f.join(':');
  }).join('\n');
}

/** The host paths of the renumbered files, to be mounted at /etc/passwd and /etc/group. */
export interface SlotAccountFiles {
  passwd: string;
  group: string;
}

/** Writes `<jobDir>/passwd` and `<jobDir>/group` for uids `base … base+count-1` from the image at `rootfs`. */
export function writeSlotAccounts(rootfs: string, jobDir: string, base: number, count: number): SlotAccountFiles {
  const passwd = join(jobDir, 'passwd');
  const group = join(jobDir, 'group');
  writeFileSync(passwd, renumberAccounts(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), [2, 3], base, count), { mode: 0o644 });
  writeFileSync(group, renumberAccounts(readFileSync(join(rootfs, 'etc/group'), 'utf8'), [2], base, count), { mode: 0o644 });
  return { passwd, group };
}
