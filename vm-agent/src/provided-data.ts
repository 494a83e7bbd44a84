/**
 * Data the host provides to a plan (Plan.provided): before any task starts, the agent copies
 * `{input}/pyti-data/<key>` into the data store (`{work}/data/<key>`), owned by the first task slot's
 * uid with the modes the copy had, as if a task of this plan had produced it. The host uses it to run
 * `inspect` once, in its own sandbox, and give its `source` and `meta` to the guest.
 *
 * Security: the input is the host's, read-only, and nothing runs while the copy is made. Symbolic links
 * are never followed: a link is copied as the same link (pointing wherever it pointed, which is what a
 * producing task would have left), a link in place of a key's directory is refused, and every file is
 * opened with O_NOFOLLOW. Devices, fifos and sockets are left out. Set-id and world-writable bits are
 * dropped. The copy is bounded in entries and bytes.
 */
import { lchownSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, utimesSync, chownSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { PlanError } from './plan-graph.js';
import { copyRegularFile } from './bounded-file-copy.js';
import type { GuestLayout } from './task-executor.js';

/** The directory of `{input}` that holds the provided data, one subdirectory per key. */
export const PROVIDED_DATA_DIR = 'pyti-data';

/** Bounds of one seeding (all keys together). */
export interface SeedLimits {
  maxEntries: number;
  maxBytes: number;
}

/** Above inspect's own bounds (50 000 members, 1 GiB expanded) with room for `meta`. */
export const DEFAULT_SEED_LIMITS: Readonly<SeedLimits> = Object.freeze({ maxEntries: 100000, maxBytes: 2 * 1024 ** 3 });

const DATA_KEY = /^[a-z][a-z0-9-]{0,63}$/;

/** What was copied, for the agent's log. */
export interface SeedSummary {
  entries: number;
  bytes: number;
  /** Devices, fifos and sockets left out. */
  skipped: number;
}

/**
 * Copies every provided key into the data store. `owner`: the uid (and gid) the copy belongs to,
 * the first slot's (`layout.uidBase`) when tasks run under their own uids; unchanged otherwise.
 * Throws PlanError when a key is malformed, missing from the input or not a directory, or the bounds are passed.
 */
export function seedProvidedData(layout: GuestLayout, keys: readonly string[], owner = layout.uidBase, limits: SeedLimits = DEFAULT_SEED_LIMITS): SeedSummary {
  const summary: SeedSummary = { entries: 0, bytes: 0, skipped: 0 };
  for (const key of keys) {
    if (typeof key !== 'string' || !DATA_KEY.test(key)) throw new PlanError([`provided data key ${JSON.stringify(key)} is not of the form [a-z][a-z0-9-]*`]);
    const src = join(layout.input, PROVIDED_DATA_DIR, key);
    let st;
    try {
      st = lstatSync(src);
    } catch {
      throw new PlanError([`provided data ${key} is not in the input (${PROVIDED_DATA_DIR}/${key})`]);
    }
    if (!st.isDirectory()) throw new PlanError([`provided data ${key} is not a directory in the input`]);
    const dest = join(layout.work, 'data', key);
    mkdirSync(dest, { recursive: true, mode: 0o755 });
    if (owner !== undefined) chownSync(dest, owner, owner);
    copyTree(src, dest, owner, limits, summary);
  }
  return summary;
}

const modeOf = (mode: number): number => mode & 0o755;

function copyTree(src: string, dest: string, owner: number | undefined, limits: SeedLimits, summary: SeedSummary): void {
  for (const name of readdirSync(src)) {
    if (++summary.entries > limits.maxEntries) throw new PlanError([`provided data has more than ${limits.maxEntries} entries`]);
    const from = join(src, name);
    const to = join(dest, name);
    const st = lstatSync(from);
    if (st.isSymbolicLink()) {
      symlinkSync(readlinkSync(from), to);
      if (owner !== undefined) lchownSync(to, owner, owner);
    } else if (st.isDirectory()) {
      mkdirSync(to, { mode: 0o700 });
      copyTree(from, to, owner, limits, summary);
      chmodSync(to, modeOf(st.mode));
      if (owner !== undefined) chownSync(to, owner, owner);
      utimesSync(to, st.atime, st.mtime);
    } else if (st.isFile()) {
      summary.bytes += copyRegularFile(from, to, modeOf(st.mode), limits.maxBytes - summary.bytes, (why) => new PlanError([
        why === 'changed' ? `provided data: ${from} changed while being copied` : 'provided data is larger than the seeding bound']));
      if (owner !== undefined) chownSync(to, owner, owner);
      utimesSync(to, st.atime, st.mtime);
    } else {
      summary.skipped++;
    }
  }
}

