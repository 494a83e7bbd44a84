/**
 * The host's copy of data a host sandbox stage produced (inspect's `source` and `meta`, written by
 * tasks into a directory bound as the sandbox's data store) into a job's input directory
 * (`{input}/pyti-data/<key>`), where the next stages' agents seed their data stores from it
 * (vm-agent provided-data.ts).
 *
 * Security: what the sandbox wrote is untrusted. The copy reads it without following any link
 * (lstat, then O_NOFOLLOW opens), keeps only directories and regular files (inspect never extracts
 * links or devices, so its own output has none: a link here was not made by inspect, and a VM's input
 * disk is built by a copy that would follow it), writes everything as the host's user with modes
 * 0755 or 0644 (the executable bit kept, as inspect sets it), and stops past its bounds.
 */
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { copyRegularFile, PytiError } from '@pyti/vm-agent';

/** Bounds of one copy, all keys together (above inspect's own: 50 000 members, 1 GiB expanded). */
export interface ProvidedCopyLimits {
  maxEntries: number;
  maxBytes: number;
}

export const DEFAULT_PROVIDED_COPY_LIMITS: Readonly<ProvidedCopyLimits> = Object.freeze({ maxEntries: 100000, maxBytes: 2 * 1024 ** 3 });

/** What the copy did. */
export interface ProvidedCopySummary {
  entries: number;
  bytes: number;
  /** Links, devices, fifos and sockets left out. */
  skipped: number;
}

const KEY = /^[a-z][a-z0-9-]{0,63}$/;

/**
 * Copies `fromDir/<key>` into `toDir/<key>` for every key. Throws PytiError PYTI_PROVIDED_DATA_INVALID
 * when a key's directory is missing or not a directory, or the bounds are passed.
 */
export function copyProvidedData(fromDir: string, toDir: string, keys: readonly string[], limits: ProvidedCopyLimits = DEFAULT_PROVIDED_COPY_LIMITS): ProvidedCopySummary {
  const summary: ProvidedCopySummary = { entries: 0, bytes: 0, skipped: 0 };
  mkdirSync(toDir, { recursive: true, mode: 0o755 });
  for (const key of keys) {
    if (!KEY.test(key)) throw new PytiError('PYTI_PROVIDED_DATA_INVALID', `data key ${JSON.stringify(key)} is not of the form [a-z][a-z0-9-]*`);
    const src = join(fromDir, key);
    const st = lstatSync(src, { throwIfNoEntry: false });
    if (!st?.isDirectory()) throw new PytiError('PYTI_PROVIDED_DATA_INVALID', `the host sandbox did not leave data ${key} as a directory`);
    mkdirSync(join(toDir, key), { mode: 0o755 });
    copyTree(src, join(toDir, key), limits, summary);
  }
  return summary;
}

function copyTree(src: string, dest: string, limits: ProvidedCopyLimits, summary: ProvidedCopySummary): void {
  for (const name of readdirSync(src)) {
    if (++summary.entries > limits.maxEntries) throw new PytiError('PYTI_PROVIDED_DATA_INVALID', `the host sandbox's data has more than ${limits.maxEntries} entries`);
    const from = join(src, name);
    const st = lstatSync(from);
    if (st.isDirectory()) {
      mkdirSync(join(dest, name), { mode: 0o755 });
      copyTree(from, join(dest, name), limits, summary);
    } else if (st.isFile()) {
      summary.bytes += copyRegularFile(from, join(dest, name), st.mode & 0o100 ? 0o755 : 0o644, limits.maxBytes - summary.bytes, (why) => new PytiError('PYTI_PROVIDED_DATA_INVALID',
        why === 'changed' ? `${from} changed while being copied` : 'the host sandbox\'s data is larger than the copy\'s bound'));
    } else {
      summary.skipped++;
    }
  }
}

