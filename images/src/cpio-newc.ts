/**
 * A writer of cpio archives in the "newc" format (the format of Linux initramfs images), enough
 * for a small initramfs: directories, regular files and symlinks, all owned by root.
 */

/** One member of the archive. Paths are relative, without a leading slash. */
export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number };

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);

function header(ino: number, mode: number, size: number, nameLen: number, rdev: [number, number] = [0, 0]): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return `070701${hex8(ino)}${hex8(mode)}${hex8(0)}${hex8(0)}${hex8(1)}${hex8(0)}${hex8(size)}${hex8(0)}${hex8(0)}${hex8(rdev[0])}${hex8(rdev[1])}${hex8(nameLen)}${hex8(0)}`;
}

/** Builds a newc cpio archive of `entries` (in order), ending with the TRAILER!!! record. */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    offset += b.length;
  };
  const record = (ino: number, mode: number, name: string, data: Buffer, rdev?: [number, number]): void => {
    const nameBuf = Buffer.from(`${name}\0`);
    push(Buffer.from(header(ino, mode, data.length, nameBuf.length, rdev), 'latin1'));
    push(nameBuf);
    push(pad4(offset));
    push(data);
    push(pad4(offset));
  };
  let ino = 1;
  for (const e of entries) {
    if (e.path.startsWith('/') || e.path.split('/').includes('..')) throw new Error(`cpio: bad path ${e.path}`);
    if (e.type === 'dir') record(ino++, 0o040000 | (e.mode ?? 0o755), e.path, Buffer.alloc(0));
    else if (e.type === 'file') record(ino++, 0o100000 | (e.mode ?? 0o644), e.path, e.data);
    else if (e.type === 'symlink') record(ino++, 0o120000 | 0o777, e.path, Buffer.from(e.target));
    else record(ino++, 0o020000 | (e.mode ?? 0o600), e.path, Buffer.alloc(0), [e.major, e.minor]);
  }
  record(0, 0, 'TRAILER!!!', Buffer.alloc(0));
  return Buffer.concat(parts);
}
