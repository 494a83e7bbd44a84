/**
 * Per-job scratch directories on the host (`$TMPDIR/pyti-job-*`: the input copy, a VM's overlay and
 * input disk, sockets). Each records its owner's pid. They are removed when the job ends, when the
 * process exits (also on SIGINT/SIGTERM, which the CLI turns into an exit), and, should the process
 * have been killed outright, by the next job's sweep of directories whose owner is gone.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '@pyti/common';

const live = new Set<string>();
let hooked = false;

/** Removes job directories left by processes that no longer exist (older than a minute). */
export function sweepStaleJobDirs(root = tmpdir()): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(root)) {
    if (!name.startsWith('pyti-job-')) continue;
    const dir = join(root, name);
    try {
      const owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
      if (owner && pidAlive(owner)) continue;
      if (Date.now() - statSync(dir).mtimeMs < 60_000 && !owner) continue; // being created
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      /* not ours or already gone */
    }
  }
  return removed;
}

/** Makes a job directory that is removed at the latest when this process exits. */
export function createJobDir(): string {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const d of live) rmSync(d, { recursive: true, force: true });
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'pyti-job-'));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  live.add(dir);
  return dir;
}

/** Removes a job directory now. */
export function removeJobDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  live.delete(dir);
}
