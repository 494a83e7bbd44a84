/**
 * The task slots' users as the guest image names them (/etc/passwd): a realistic login name and a
 * home such as /home/alex, a symlink to the layout's home (/work/home), so the home is on the same
 * mount as the work tree (a rename(2) from the work tree into ~ works, as on a laptop).
 */
import { readFileSync } from 'node:fs';

/** One passwd entry. */
export interface SlotUser {
  name: string;
  uid: number;
  home: string;
}

let cache: SlotUser[] | undefined;

/** The passwd entries of the image (empty when /etc/passwd cannot be read). */
export function passwdUsers(file = '/etc/passwd'): SlotUser[] {
  if (cache && file === '/etc/passwd') return cache;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    /* no passwd: no names */
  }
  const users = text.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 7 && /^\d+$/.test(f[2]!))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), home: f[5]! }));
  if (file === '/etc/passwd') cache = users;
  return users;
}

/** The user of one uid, if the image names it. */
export function slotUser(uid: number, users = passwdUsers()): SlotUser | undefined {
  return users.find((u) => u.uid === uid);
}

/**
 * The other paths of the home: the slot users' home paths (symlinks to `home`) that differ from it.
 * strace shows these in a path argument, the resolved `home` in fd decorations.
 */
export function homeAliases(home: string, uidBase: number | undefined, slots = 8, users = passwdUsers()): string[] {
  if (uidBase === undefined) return [];
  const out = new Set<string>();
  for (let i = 0; i < slots; i++) {
    const u = slotUser(uidBase + i, users);
    if (u && u.home && u.home !== home && u.home.startsWith('/')) out.add(u.home.replace(/\/+$/, ''));
  }
  return [...out].sort();
}
