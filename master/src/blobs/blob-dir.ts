/**
 * Where a master writes blobs before they are complete. Blobs are renamed into place, so the temporary
 * directory must be on the blob directory's file system: by default (blobs in the data directory)
 * it is `DATA/tmp` as ever; with a shared `--blob-dir` it is `BLOBDIR/tmp/HOST-PID`, one per master
 * process, so a master starting up (which empties its own) never removes another one's files.
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { MasterConfig } from '../config.js';

/** The temporary directory of this master's blob writes (emptied at start). */
export function blobTempDir(config: Pick<MasterConfig, 'dataDir' | 'blobDir'>): string {
  if (resolve(config.blobDir) === resolve(join(config.dataDir, 'blobs'))) return join(config.dataDir, 'tmp');
  return join(config.blobDir, 'tmp', `${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-${process.pid}`);
}
