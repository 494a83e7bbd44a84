/** Checks of archive member names and link targets against path traversal. */

/** Why a member name is unsafe, or null when it is a plain relative path. */
export function unsafeMemberPath(name: string): string | null {
  if (name.includes('\0')) return 'contains a NUL byte';
  const n = name.replace(/\\/g, '/');
  if (n.startsWith('/') || /^[A-Za-z]:\//.test(n)) return 'is an absolute path';
  if (n.split('/').includes('..')) return 'climbs out with ..';
  return null;
}

/** Whether a link at `member` pointing to `target` stays inside the archive's tree. */
export function linkStaysInside(member: string, target: string, hardlink: boolean): boolean {
  const t = target.replace(/\\/g, '/');
  if (t.startsWith('/')) return false;
  // Hard link targets are archive paths; symlink targets are relative to the link's directory.
  const parts = hardlink ? [] : member.replace(/\\/g, '/').split('/').slice(0, -1);
  for (const p of t.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (!parts.length) return false;
      parts.pop();
    } else parts.push(p);
  }
  return true;
}

/**
 * A member name as the guest's inspect task (tasks/guest/inspect_dist.py `safe_name`) normalizes it:
 * backslashes as slashes, empty and `.` parts dropped. Only meaningful for names unsafeMemberPath accepts.
 */
export function guestMemberName(name: string): string {
  return name.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.').join('/');
}
