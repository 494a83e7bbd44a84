/**
 * The slave's data directory: `wheels/` (the shared wheel cache), `outbox/` (finished results not yet
 * acknowledged), `jobs/` (one directory per running job) and `slave.lock`, which makes the directory
 * one slave process's own (the wheel cache and the outbox assume a single writer).
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { pidAlive } from '@pyti/common';

/** Takes the data directory for this process; throws PYTI_CONFIG_INVALID when a live slave holds it. Returns the release function. */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lock = join(dataDir, 'slave.lock');
  for (let i = 0; i < 2; i++) {
    try {
      const fd = openSync(lock, 'wx', 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(lock, 'utf8') === String(process.pid)) rmSync(lock, { force: true });
        } catch {
          /* gone */
        }
      };
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lock, 'utf8').trim());
      if (owner && owner !== process.pid && pidAlive(owner)) {
        throw new PytiError('PYTI_CONFIG_INVALID', `data directory ${dataDir} is in use by another slave (pid ${owner})`);
      }
      rmSync(lock, { force: true });
    }
  }
  writeFileSync(lock, String(process.pid));
  return () => rmSync(lock, { force: true });
}

/** The directory of job directories, emptied (anything there belongs to a slave that is gone). */
export function resetJobsDir(dataDir: string): string {
  const dir = join(dataDir, 'jobs');
  mkdirSync(dir, { recursive: true });
  for (const n of readdirSync(dir)) rmSync(join(dir, n), { recursive: true, force: true });
  return dir;
}
