/**
 * The slave's wheel cache, shared by all its jobs, content-addressed:
 *
 *   <root>/by-sha256/<hex>.whl      the wheels (read-only files), named by their sha256
 *   <root>/by-name/<filename>       symbolic link to ../by-sha256/<hex>.whl: the newest file of that name
 *   <root>/staging/<random>/        one pip run's download directory
 *
 * A pip run gets a staging directory pre-filled with hard links to every cached wheel under its file
 * name, so pip finds what it needs "already downloaded" (it checks the file against the index's hash
 * and fetches it again only on a mismatch) and downloads only the rest. Afterwards `commit` moves the
 * new files into the cache; the job's wheelhouse gets hard links to exactly the files pip resolved.
 *
 * Concurrency: commits are serialised within the process; a data directory belongs to one slave
 * process (the daemon locks it). Staging directories of runs that died are swept by `sweepStaging`.
 * A prefetch runs inside `use` (wheel-cache-use.ts), so the pruner (wheel-cache-pruner.ts) never
 * deletes a wheel under it; each commit renews the modification time of the wheels pip resolved,
 * the "last use" the pruner goes by.
 *
 * Security: only regular files with safe wheel names are taken from a staging directory; the cache
 * never follows a name from pip's output outside the staging directory.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, copyFileSync, chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { basename, join } from 'node:path';
import { safeDistFilename } from '@pyti/common';
import { withCacheUse } from './wheel-cache-use.js';

/** One wheel in the cache. */
export interface CachedWheel {
  filename: string;
  sha256: string;
  /** Path of the content-addressed file. */
  path: string;
  /** False when this commit added it (pip downloaded it). */
  cached: boolean;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

/** Hard-links `src` to `dest`, copying when a link is impossible (another file system). */
export function linkOrCopy(src: string, dest: string): void {
  try {
    linkSync(src, dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    copyFileSync(src, dest);
  }
}

export class WheelCache {
  readonly bySha: string;
  readonly byName: string;
  readonly staging: string;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly root: string) {
    this.bySha = join(root, 'by-sha256');
    this.byName = join(root, 'by-name');
    this.staging = join(root, 'staging');
    for (const d of [this.bySha, this.byName, this.staging]) mkdirSync(d, { recursive: true });
  }

  /** Cached wheels by file name → sha256. */
  entries(): Map<string, string> {
    const m = new Map<string, string>();
    for (const name of readdirSync(this.byName)) {
      try {
        const target = basename(readlinkSync(join(this.byName, name)));
        const hex = /^([0-9a-f]{64})\.whl$/.exec(target)?.[1];
        if (hex && safeDistFilename(name) && existsSync(join(this.bySha, target))) m.set(name, hex);
      } catch {
        /* not a link of ours */
      }
    }
    return m;
  }

  /** Runs `fn` (a prefetch: stage, pip, commit, link) holding a use of the cache: no prune runs meanwhile. */
  use<T>(fn: () => Promise<T>): Promise<T> {
    return withCacheUse(this.root, fn);
  }

  /** Marks a cached wheel used now (the pruner keeps the recently used). */
  private touch(path: string): void {
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch {
      /* not ours to touch: the pruner then sees its older time */
    }
  }

  /** A fresh download directory holding hard links to every cached wheel under its name. */
  stage(): string {
    const dir = join(this.staging, `${process.pid}-${randomUUID()}`);
    mkdirSync(dir);
    for (const [name, hex] of this.entries()) linkOrCopy(join(this.bySha, `${hex}.whl`), join(dir, name));
    return dir;
  }

  /** Removes a staging directory. */
  unstage(dir: string): void {
    if (dir.startsWith(`${this.staging}/`)) rmSync(dir, { recursive: true, force: true });
  }

  /** Removes staging directories left by runs of processes that are gone (call at start-up). */
  sweepStaging(): void {
    for (const n of readdirSync(this.staging)) {
      const pid = Number(n.split('-')[0]);
      if (pid === process.pid) continue;
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (err) {
        alive = (err as NodeJS.ErrnoException).code === 'EPERM';
      }
      if (!alive) rmSync(join(this.staging, n), { recursive: true, force: true });
    }
  }

  /** Takes the files `filenames` of staging directory `dir` into the cache; serialised. */
  commit(dir: string, filenames: string[]): Promise<CachedWheel[]> {
    const run = this.tail.then(() => this.commitNow(dir, filenames));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async commitNow(dir: string, filenames: string[]): Promise<CachedWheel[]> {
    const known = this.entries();
    const out: CachedWheel[] = [];
    for (const filename of [...new Set(filenames)]) {
      if (!safeDistFilename(filename) || !filename.endsWith('.whl')) continue;
      const p = join(dir, filename);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (!st.isFile()) continue;
      const hex = known.get(filename);
      if (hex && statSync(join(this.bySha, `${hex}.whl`)).ino === st.ino) {
        this.touch(join(this.bySha, `${hex}.whl`));
        out.push({ filename, sha256: hex, path: join(this.bySha, `${hex}.whl`), cached: true });
        continue;
      }
      const sha = await sha256File(p);
      const dest = join(this.bySha, `${sha}.whl`);
      const had = existsSync(dest);
      if (!had) {
        const tmp = `${dest}.tmp-${randomUUID().slice(0, 8)}`;
        copyFileSync(p, tmp);
        chmodSync(tmp, 0o444);
        renameSync(tmp, dest);
      } else this.touch(dest);
      const link = join(this.byName, filename);
      const tmpLink = `${link}.tmp-${randomUUID().slice(0, 8)}`;
      symlinkSync(join('..', 'by-sha256', `${sha}.whl`), tmpLink);
      renameSync(tmpLink, link);
      out.push({ filename, sha256: sha, path: dest, cached: had });
    }
    return out;
  }

  /** Hard-links `wheels` into `dir` (a job's wheelhouse) under their file names. */
  linkInto(wheels: CachedWheel[], dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const w of wheels) linkOrCopy(w.path, join(dir, w.filename));
  }
}
