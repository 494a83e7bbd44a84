/**
 * Opens the master's embedded database (better-sqlite3): WAL, foreign keys on, a busy timeout,
 * then applies pending migrations in one transaction each. A database from a newer PyTI is refused
 * with PYTI_DB_SCHEMA.
 */
import Database from 'better-sqlite3';
import { PytiError } from '@pyti/vm-agent';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { pgMigrations } from './pg-migrations.js';
import { PG_COMPAT_SQL } from './pg-sql.js';
import { isPostgresUrl, PgStore } from './pg-store.js';

export type Db = Database.Database;

/** The SQL dialect under a Db: SQLite (embedded default) or PostgreSQL (`--database postgres://…`). */
export function dialectOf(db: Db): 'sqlite' | 'postgres' {
  return (db as unknown as { dialect?: string }).dialect === 'postgres' ? 'postgres' : 'sqlite';
}

/** The schema version stored in `db` (0 for a fresh database). */
export function schemaVersion(db: Db): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  return row?.version ?? 0;
}

/**
 * Applies the migrations `db` lacks, one transaction each; throws PYTI_DB_SCHEMA for a newer or broken
 * schema. Foreign keys are OFF while migrations run (a migration may rebuild a table with SQLite's
 * documented procedure; with them ON, dropping the old table would delete every row referencing
 * it), and `PRAGMA foreign_key_check` must come back empty before each migration commits. The
 * connection's foreign-key setting is restored afterwards.
 */
export function migrate(db: Db, migrations: readonly string[] = MIGRATIONS): number {
  const have = schemaVersion(db);
  if (have > migrations.length) {
    throw new PytiError('PYTI_DB_SCHEMA', `the database has schema version ${have}, newer than this PyTI's ${migrations.length}: upgrade PyTI`);
  }
  if (have === migrations.length) return have;
  const fkWasOn = db.pragma('foreign_keys', { simple: true }) === 1;
  db.pragma('foreign_keys = OFF');
  try {
    for (let v = have + 1; v <= migrations.length; v++) {
      try {
        db.transaction(() => {
          db.exec(migrations[v - 1]!);
          const broken = db.pragma('foreign_key_check') as { table: string; rowid: number; parent: string }[];
          if (broken.length) {
            const first = broken[0]!;
            throw new Error(`${broken.length} rows break foreign keys (first: ${first.table} row ${first.rowid} → ${first.parent})`);
          }
          db.prepare('DELETE FROM schema_version').run();
          db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(v);
        })();
      } catch (err) {
        throw new PytiError('PYTI_DB_SCHEMA', `migrating the database to schema version ${v} failed: ${(err as Error).message}`, { cause: err });
      }
    }
  } finally {
    if (fkWasOn) db.pragma('foreign_keys = ON');
  }
  return migrations.length;
}

/**
 * Opens the master's store and migrates it: a PostgreSQL database for a `postgres://` or
 * `postgresql://` URL (pg-store.ts; several masters may share it), else the SQLite file at `path`
 * (or `:memory:`), created when missing.
 */
export function openDatabase(path: string): Db {
  if (isPostgresUrl(path)) return openPostgres(path);
  let db: Db;
  try {
    db = new Database(path);
  } catch (err) {
    throw new PytiError('PYTI_DB_SCHEMA', `${path}: cannot open the database: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('synchronous = NORMAL');
    migrate(db);
  } catch (err) {
    db.close();
    if (err instanceof PytiError) throw err;
    throw new PytiError('PYTI_DB_SCHEMA', `${path}: not a usable database: ${(err as Error).message}`, { cause: err });
  }
  return db;
}

export { SCHEMA_VERSION };

/** Any number that keys the migration lock (an advisory lock: one master migrates at a time). */
const MIGRATION_LOCK = 0x70797469;

/** Opens a PostgreSQL store and migrates it under an advisory lock (masters starting together wait for one another). */
function openPostgres(url: string): Db {
  const store = new PgStore(url);
  const db = store as unknown as Db;
  try {
    store.queryNative('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      store.execNative(PG_COMPAT_SQL);
      migrate(db, pgMigrations(MIGRATIONS));
    } finally {
      store.queryNative('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } catch (err) {
    store.close();
    if (err instanceof PytiError) throw err;
    throw new PytiError('PYTI_DB_SCHEMA', `${store.name}: not a usable database: ${(err as Error).message}`, { cause: err });
  }
  return db;
}
