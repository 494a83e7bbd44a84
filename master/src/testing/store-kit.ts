/**
 * Runs a suite against both of the master's stores: `describe.each(stores.kinds)(…, (kind) => …)`
 * with `await stores.open(kind)` in a beforeEach gives a fresh, migrated SQLite (`:memory:`) or
 * PostgreSQL database (a new database on one throwaway server per test file, pg-kit.ts).
 * PostgreSQL cases are left out where PostgreSQL is not installed, except under CI=true.
 */
import { afterAll, beforeAll } from '@jest/globals';
import { openDatabase, type Db } from '../db/database.js';
import { pgAvailable, startPgForTests, type PgServer, type StoreKind } from './pg-kit.js';

export interface TestStores {
  readonly kinds: StoreKind[];
  /** A fresh migrated store of `kind`. */
  open(kind: StoreKind): Promise<Db>;
  /** A fresh database URL (PostgreSQL) or data-dir-relative path (SQLite) of `kind`. */
  location(kind: StoreKind, sqlitePath?: string): Promise<string>;
  /** The server (PostgreSQL runs only). */
  server(): PgServer;
}

/** Call at the top level of a test file: registers beforeAll/afterAll starting and stopping the server. */
export function testStores(): TestStores {
  const withPg = pgAvailable() || process.env.CI === 'true';
  let server: PgServer | null = null;
  if (withPg) {
    beforeAll(async () => { server = await startPgForTests(); }, 120_000);
    afterAll(() => server?.stop());
  }
  const need = () => {
    if (!server) throw new Error('PostgreSQL did not start');
    return server;
  };
  return {
    kinds: withPg ? ['sqlite', 'postgres'] : ['sqlite'],
    async open(kind) {
      return openDatabase(await this.location(kind));
    },
    async location(kind, sqlitePath = ':memory:') {
      return kind === 'sqlite' ? sqlitePath : need().freshDatabase();
    },
    server: need,
  };
}
