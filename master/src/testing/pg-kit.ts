/**
 * A real, throwaway PostgreSQL 15 server for tests (Debian's postgresql-15, binaries in
 * /usr/lib/postgresql/15/bin). PostgreSQL refuses to run as root, so when the tests run as root the
 * server runs as the `postgres` user (setpriv); it lives in a fresh temporary directory, listens on
 * a unix socket there and on a free loopback TCP port, trusts local connections, and is stopped and
 * removed by `stop()`.
 *
 * `available()` tells whether a server can be started here; suites use `describeStores` (below) to
 * run against SQLite and PostgreSQL, skipping PostgreSQL when it is missing, except under CI=true,
 * where a missing server fails the suite.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const PG_BIN = process.env.PYTI_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Whether PostgreSQL's binaries are here (and, as root, the `postgres` user to run them). */
export function pgAvailable(): boolean {
  if (!existsSync(join(PG_BIN, 'postgres')) || !existsSync(join(PG_BIN, 'initdb'))) return false;
  if (process.getuid?.() === 0) return spawnSync('id', ['-u', 'postgres']).status === 0;
  return true;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** A running test server. */
export class PgServer {
  private counter = 0;

  private constructor(readonly dir: string, readonly port: number, private readonly asUser: string[]) {}

  /** initdb + pg_ctl start in a new temporary directory. */
  static async start(): Promise<PgServer> {
    const dir = mkdtempSync(join(tmpdir(), 'pyti-pg-'));
    const root = process.getuid?.() === 0;
    const asUser = root ? ['setpriv', '--reuid=postgres', '--regid=postgres', '--clear-groups', '--'] : [];
    if (root) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(dir, uid, gid);
    }
    chmodSync(dir, 0o700);
    const port = await freePort();
    const s = new PgServer(dir, port, asUser);
    s.run(join(PG_BIN, 'initdb'), ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C.UTF-8']);
    writeFileSync(join(dir, 'start.log'), '');
    if (root) chownSync(join(dir, 'start.log'), Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
    s.run(join(PG_BIN, 'pg_ctl'), ['-D', join(dir, 'data'), '-l', join(dir, 'start.log'), '-w', '-t', '60', '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`, 'start']);
    return s;
  }

  private run(cmd: string, args: string[]): void {
    const argv = [...this.asUser, cmd, ...args];
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: this.dir, timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  }

  /** The URL of database `name` (TCP on loopback). */
  url(name = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`;
  }

  /** Creates an empty database and returns its URL. */
  async freshDatabase(prefix = 'pyti'): Promise<string> {
    const name = `${prefix}_${process.pid}_${++this.counter}`;
    const c = new pg.Client({ connectionString: this.url() });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE ${name}`);
    } finally {
      await c.end();
    }
    return this.url(name);
  }

  /** Runs one query on `url` (a fresh connection). */
  async query(url: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  }

  /** Stops the server (immediate) and removes its directory. */
  stop(): void {
    try {
      this.run(join(PG_BIN, 'pg_ctl'), ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    } catch { /* already down */ }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The stores a suite runs against. */
export type StoreKind = 'sqlite' | 'postgres';

/**
 * Starts a server for a suite when PostgreSQL is available; null (the PostgreSQL cases skip) when it
 * is not, unless CI=true, where a missing PostgreSQL throws (the suite fails).
 */
export async function startPgForTests(): Promise<PgServer | null> {
  if (!pgAvailable()) {
    if (process.env.CI === 'true') throw new Error(`PostgreSQL 15 is not installed (${PG_BIN}); run .ci/install-system-deps`);
    return null;
  }
  return PgServer.start();
}
