/**
 * A wheelhouse every task uid can read. Build tools differ in the modes they give their output
 * (flit writes its wheels 0600), and a wheelhouse is mounted read-only into the sandbox as it is:
 * a file only its owner can read turned into the package's `build-fail` ("Permission denied") when
 * the build's or install's pip, running as an unprivileged task uid, opened it.
 */
import { chmodSync, copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Names of the regular files directly in `dir` that others cannot read. */
export function unreadableFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => {
    const st = statSync(join(dir, name), { throwIfNoEntry: false });
    return !!st && st.isFile() && (st.mode & 0o004) === 0;
  });
}

/**
 * `dir` itself when every file in it is world-readable; else a copy in `stageDir` (regular files
 * only, each 0644), so the caller's files keep their modes. Returns the directory to mount.
 */
export function readableWheelhouse(dir: string, stageDir: string): string {
  if (unreadableFiles(dir).length === 0) return dir;
  mkdirSync(stageDir, { recursive: true, mode: 0o755 });
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name), { throwIfNoEntry: false });
    if (!st?.isFile()) continue;
    copyFileSync(join(dir, name), join(stageDir, name));
    chmodSync(join(stageDir, name), 0o644);
  }
  return stageDir;
}
