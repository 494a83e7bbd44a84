/**
 * `pyti master rescore [--data DIR] [--observations-token T]`: re-judges every stored audit of the
 * master's data directory with the current rules (rescore-store.ts), printing progress and
 * `old → new` per changed audit, then a summary. Run it with the master stopped, or between its
 * writes (SQLite locks; a report completed meanwhile is judged when it arrives anyway). With an
 * observations token (flag or PYTI_OBSERVATIONS_TOKEN), audits newly judged malicious queue an
 * observation that the master sends once it runs.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BlobStore } from '../blobs/blob-store.js';
import { loadMasterConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { lockDataDir } from '../server/data-dir-lock.js';
import { blobTempDir } from '../blobs/blob-dir.js';
import { DB_FILE } from '../http/master-app.js';
import { ObservationStore } from '../observations/observation-store.js';
import { rescoreAll } from './rescore-store.js';

export const RESCORE_USAGE = 'usage: pyti master rescore [--data DIR] [--database postgres://…] [--blob-dir DIR] [--observations-token T]';

/** Runs `pyti master rescore …` (args after `rescore`); resolves to the exit code (0, 2 when an audit could not be rescored). */
export async function runRescoreCommand(args: string[], io: { out(s: string): void; err(s: string): void }, env: Record<string, string | undefined> = process.env): Promise<number> {
  const { values } = parseArgs({ args, options: { data: { type: 'string' }, database: { type: 'string' }, 'blob-dir': { type: 'string' }, 'observations-token': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  if (values.help) {
    io.out(`${RESCORE_USAGE}\n`);
    return 0;
  }
  const config = loadMasterConfig({ data: values.data, database: values.database, blobDir: values['blob-dir'], observationsToken: values['observations-token'] }, env);
  // The master must be stopped: with SQLite, rescoring takes the data directory's lock like a master
  // (PYTI_DATA_DIR_LOCKED); on PostgreSQL several masters share the store and nothing is locked.
  const lock = config.database ? null : await lockDataDir(config.dataDir, 'pyti master rescore');
  let db;
  try {
    db = openDatabase(config.database ?? join(config.dataDir, DB_FILE));
  } catch (err) {
    await lock?.release();
    throw err;
  }
  try {
    const blobs = new BlobStore(config.blobDir, blobTempDir(config));
    const tally = new Map<string, number>();
    let changed = 0;
    let failed = 0;
    const results = await rescoreAll({
      db, blobs, now: Date.now(), observations: config.observationsToken ? new ObservationStore(db) : undefined,
      onAudit: (r, done, total) => {
        tally.set(r.after.verdict, (tally.get(r.after.verdict) ?? 0) + 1);
        const head = `[${done}/${total}] ${r.id} ${r.project} ${r.version}`;
        if (r.error) {
          failed++;
          io.err(`${head}: could not rescore: ${r.error}\n`);
          return;
        }
        const moved = r.before.verdict !== r.after.verdict || r.before.score !== r.after.score;
        if (moved) changed++;
        io.out(`${head}: ${r.before.verdict ?? '-'}${r.before.score === null ? '' : ` (${r.before.score})`} → ${r.after.verdict} (${r.after.score})${moved ? '' : ' unchanged'}\n`);
      },
    });
    io.out(`rescored ${results.length - failed} of ${results.length} audits, ${changed} changed: ${[...tally].map(([v, n]) => `${n} ${v}`).join(', ') || 'none'}\n`);
    return failed ? 2 : 0;
  } finally {
    db.close();
    await lock?.release();
  }
}
