/**
 * The master's store on PostgreSQL behind better-sqlite3's synchronous API (the part the master uses:
 * `prepare(sql)` → `get` / `all` / `run` / `iterate` / `pluck`, `exec`, `transaction(fn)` with nested
 * savepoints, `pragma` (a no-op), `close`), so every module written against `Db` runs unchanged.
 *
 * How: one `pg` connection lives in a worker thread (pg-worker-source.ts); each call posts the
 * translated SQL (pg-sql.ts) to it and blocks the main thread on `Atomics.wait` until the answer is
 * there (`receiveMessageOnPort`). One connection per master process: a transaction is BEGIN … COMMIT
 * on it, and nothing interleaves because the main thread waits. Session-level advisory locks (feed
 * following, pg-locks.ts) live on this connection and end with it.
 *
 * Errors: a PostgreSQL error is thrown with SQLite's code name where the master tests one
 * (`SQLITE_CONSTRAINT_UNIQUE`, …), `pgCode` and the statement; a connection that cannot be made or
 * is lost is PYTI_DB_UNAVAILABLE. Security: the URL (with its password) is never put in a message.
 */
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { PytiError } from '@pyti/vm-agent';
import { NATIVE_PG } from './pg-migrations.js';
import { PG_WORKER_SOURCE } from './pg-worker-source.js';
import { PG_FUNCTIONS, translate, translateScript, type SchemaInfo, type TranslatedSql } from './pg-sql.js';

/** How long one request may take before the store gives up (the connection is then unusable). */
const REQUEST_TIMEOUT_MS = 120_000;

const SQLITE_CODES: Record<string, string> = {
  23505: 'SQLITE_CONSTRAINT_UNIQUE',
  23503: 'SQLITE_CONSTRAINT_FOREIGNKEY',
  23502: 'SQLITE_CONSTRAINT_NOTNULL',
  23514: 'SQLITE_CONSTRAINT_CHECK',
  53100: 'SQLITE_FULL',
};

type Answer = { ok: true; rows: Record<string, unknown>[]; rowCount: number } | { ok: false; error: { message: string; code?: string; detail?: string } };

let checkStatements = false;

/**
 * Tests: when on, every `prepare` is translated and checked by PostgreSQL at once (PREPARE, then
 * DEALLOCATE), so a statement PostgreSQL cannot run fails where it is prepared, not when first used.
 */
export function checkStatementsOnPrepare(on: boolean): void {
  checkStatements = on;
}

/** The channel masters NOTIFY when jobs can be leased (see JobQueue). */
export const QUEUE_CHANNEL = 'pyti_queue';

/** Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The URL without its password (for messages). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/** A prepared statement (better-sqlite3's Statement, the methods the master uses). */
export class PgStatement {
  private plucked = false;

  constructor(private readonly store: PgStore, private readonly source: string) {}

  /** Returns the first column's value instead of the row. */
  pluck(on = true): this {
    this.plucked = on;
    return this;
  }

  get(...args: unknown[]): unknown {
    const rows = this.store.query(this.source, args, false).rows;
    const r = rows[0];
    if (r === undefined) return undefined;
    return this.plucked ? Object.values(r)[0] : r;
  }

  all(...args: unknown[]): unknown[] {
    const rows = this.store.query(this.source, args, false).rows;
    return this.plucked ? rows.map((r) => Object.values(r)[0]) : rows;
  }

  iterate(...args: unknown[]): IterableIterator<unknown> {
    return this.all(...args)[Symbol.iterator]();
  }

  run(...args: unknown[]): { changes: number; lastInsertRowid: number } {
    const r = this.store.query(this.source, args, true);
    const first = r.rows[0];
    return { changes: r.rowCount, lastInsertRowid: first && r.identity ? Number(first[r.identity]) : 0 };
  }
}

/** The better-sqlite3-shaped store on one PostgreSQL connection. */
export class PgStore implements SchemaInfo {
  /** Tells the master's modules which SQL dialect runs underneath (see dialectOf). */
  readonly dialect = 'postgres' as const;
  readonly name: string;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private depth = 0;
  private closed = false;
  private catalog: Catalog | null = null;
  private readonly cache = new Map<string, TranslatedSql>();
  private readonly events: MessagePort;
  private readonly listeners = new Map<string, Set<(payload: string) => void>>();

  /** Connects to `url` (blocks until connected); throws PYTI_DB_UNAVAILABLE. */
  constructor(url: string) {
    this.name = redactUrl(url);
    const { port1, port2 } = new MessageChannel();
    const ev = new MessageChannel();
    this.port = port1;
    this.events = ev.port1;
    const pgPath = createRequire(import.meta.url).resolve('pg');
    this.worker = new Worker(PG_WORKER_SOURCE, {
      eval: true,
      workerData: { port: port2, events: ev.port2, flag: this.flag.buffer, url, pg: pgPath, listen: [QUEUE_CHANNEL] },
      transferList: [port2, ev.port2],
    });
    this.worker.unref();
    this.port.unref();
    this.events.on('message', (n: { channel: string; payload: string }) => {
      for (const fn of this.listeners.get(n.channel) ?? []) fn(n.payload);
    });
    this.events.unref();
    try {
      this.call({ op: 'query', sql: 'SELECT 1', params: [] });
    } catch (err) {
      void this.worker.terminate();
      throw new PytiError('PYTI_DB_UNAVAILABLE', `${this.name}: cannot connect: ${(err as Error).message}`, { cause: err });
    }
  }

  get open(): boolean {
    return !this.closed;
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  prepare(sql: string): PgStatement {
    if (this.closed) throw new PytiError('PYTI_DB_UNAVAILABLE', 'the database is closed');
    if (checkStatements && this.depth === 0) {
      const t = this.translated(sql);
      this.call({ op: 'exec', sql: `PREPARE pyti_check AS ${t.text}` }, sql);
      this.call({ op: 'exec', sql: 'DEALLOCATE pyti_check' });
    }
    return new PgStatement(this, sql);
  }

  /** Runs a script (several statements, no parameters), translated. */
  exec(sql: string): this {
    const text = sql.startsWith(NATIVE_PG) ? sql : translateScript(sql, this);
    if (text.trim()) this.call({ op: 'exec', sql: text });
    if (/\b(CREATE|ALTER|DROP)\b/i.test(sql)) this.catalog = null;
    return this;
  }

  /** Runs PostgreSQL SQL as it is (no translation): for the store's own DDL and locks. */
  execNative(sql: string): void {
    this.call({ op: 'exec', sql });
  }

  /** Runs one native PostgreSQL query with `$n` parameters. */
  queryNative(sql: string, params: unknown[] = []): Record<string, unknown>[] {
    return this.call({ op: 'query', sql, params }).rows;
  }

  /**
   * better-sqlite3's user-defined SQL functions run JavaScript inside SQLite; PostgreSQL cannot call
   * back into this process, so each one the master registers exists as SQL (PG_FUNCTIONS); any other throws.
   */
  function(name: string, ..._rest: unknown[]): this {
    if (!PG_FUNCTIONS.has(name)) throw new PytiError('PYTI_DB_SCHEMA', `the SQL function ${name} has no PostgreSQL version (add it to PG_COMPAT_SQL)`);
    return this;
  }

  /** PRAGMAs mean nothing here: answers like SQLite for the ones the master reads, else does nothing. */
  pragma(source: string, opts?: { simple?: boolean }): unknown {
    if (/^\s*foreign_keys\s*$/i.test(source)) return opts?.simple ? 1 : [{ foreign_keys: 1 }];
    return opts?.simple ? undefined : [];
  }

  /** better-sqlite3's transaction(fn): BEGIN … COMMIT, nested calls in savepoints; rolled back on a throw. */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    return (...args: A): R => {
      const level = this.depth;
      this.call({ op: 'exec', sql: level === 0 ? 'BEGIN' : `SAVEPOINT pyti_tx${level}` });
      this.depth++;
      let result: R;
      try {
        result = fn(...args);
      } catch (err) {
        this.depth--;
        try {
          this.call({ op: 'exec', sql: level === 0 ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT pyti_tx${level}; RELEASE SAVEPOINT pyti_tx${level}` });
        } catch { /* the connection is gone; the error below says why */ }
        throw err;
      }
      this.depth--;
      try {
        this.call({ op: 'exec', sql: level === 0 ? 'COMMIT' : `RELEASE SAVEPOINT pyti_tx${level}` });
      } catch (err) {
        if (level === 0) try { this.call({ op: 'exec', sql: 'ROLLBACK' }); } catch { /* gone */ }
        throw err;
      }
      return result;
    };
  }

  /**
   * Calls `fn` for every NOTIFY on `channel` (QUEUE_CHANNEL only: the connection listens on it from the
   * start), from any master on the database, this one included. Returns the unsubscribe function.
   */
  onNotification(channel: string, fn: (payload: string) => void): () => void {
    const set = this.listeners.get(channel) ?? new Set();
    set.add(fn);
    this.listeners.set(channel, set);
    return () => set.delete(fn);
  }

  /** NOTIFY `channel` (delivered when the current transaction commits, at once outside one). */
  notify(channel: string, payload = ''): void {
    this.queryNative('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.events.close();
    try { this.call({ op: 'close' }); } catch { /* already gone */ }
    void this.worker.terminate();
    this.port.close();
  }

  // ---- SchemaInfo ------------------------------------------------------------------------------

  primaryKeys(table: string): string[] | undefined {
    return this.loadCatalog().keys.get(table.toLowerCase());
  }

  columns(table: string): string[] | undefined {
    return this.loadCatalog().columns.get(table.toLowerCase());
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Runs a statement of the master's (SQLite) SQL with better-sqlite3-style arguments. */
  query(source: string, args: unknown[], write: boolean): { rows: Record<string, unknown>[]; rowCount: number; identity: string | null } {
    const t = this.translated(source);
    const named = args.length > 0 && isNamedArgs(args[0]) ? args[0] as Record<string, unknown> : null;
    const positional = named ? args.slice(1) : args;
    const values = t.params.map((p) => toPg('pos' in p ? positional[p.pos] : named?.[p.name]));
    let text = t.text;
    let identity: string | null = null;
    if (write && t.insertInto && !t.returning) {
      identity = this.loadCatalog().identity.get(t.insertInto) ?? null;
      if (identity) text = `${text} RETURNING ${identity}`;
    }
    const isWrite = /^\s*(INSERT|UPDATE|DELETE)\b/i.test(text);
    const r = this.call({ op: 'query', sql: text, params: values, guard: this.depth > 0 && isWrite }, source);
    if (!t.mentionsRowid) for (const row of r.rows) delete row.rowid;
    return { rows: r.rows, rowCount: r.rowCount, identity };
  }

  private translated(source: string): TranslatedSql {
    let t = this.cache.get(source);
    if (!t) {
      try {
        t = translate(source, this);
      } catch (err) {
        throw new PytiError('PYTI_DB_SCHEMA', `cannot run on PostgreSQL: ${(err as Error).message}`, { cause: err });
      }
      this.cache.set(source, t);
    }
    return t;
  }

  private loadCatalog(): Catalog {
    if (this.catalog) return this.catalog;
    const identity = new Map<string, string>();
    const keys = new Map<string, string[]>();
    const columns = new Map<string, string[]>();
    for (const r of this.queryNative(`SELECT table_name AS t, column_name AS c FROM information_schema.columns
      WHERE table_schema = current_schema() ORDER BY ordinal_position`)) {
      const c = columns.get(String(r.t)) ?? [];
      c.push(String(r.c));
      columns.set(String(r.t), c);
    }
    for (const r of this.queryNative(`SELECT table_name AS t, column_name AS c FROM information_schema.columns
      WHERE table_schema = current_schema() AND is_identity = 'YES' AND column_name <> 'rowid'`)) identity.set(String(r.t), String(r.c));
    for (const r of this.queryNative(`SELECT tc.table_name AS t, kcu.column_name AS c FROM information_schema.table_constraints tc
      JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.constraint_schema = tc.constraint_schema
      WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() ORDER BY kcu.ordinal_position`)) {
      const k = keys.get(String(r.t)) ?? [];
      k.push(String(r.c));
      keys.set(String(r.t), k);
    }
    this.catalog = { identity, keys, columns };
    return this.catalog;
  }

  private call(req: { op: string; sql?: string; params?: unknown[]; guard?: boolean }, source?: string): Extract<Answer, { ok: true }> {
    if (this.closed && req.op !== 'close') throw new PytiError('PYTI_DB_UNAVAILABLE', 'the database is closed');
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(req);
    const deadline = Date.now() + REQUEST_TIMEOUT_MS;
    let msg: { message: Answer } | undefined;
    for (;;) {
      Atomics.wait(this.flag, 0, 0, 1000);
      msg = receiveMessageOnPort(this.port) as { message: Answer } | undefined;
      if (msg) break;
      if (Date.now() > deadline) throw new PytiError('PYTI_DB_UNAVAILABLE', `${this.name}: no answer in ${REQUEST_TIMEOUT_MS / 1000} s`);
    }
    const a = msg.message;
    if (a.ok) return a;
    const e = a.error;
    if (!e.code || /^(08|57P|53300)/.test(e.code) || /terminat|Connection|ECONNREFUSED|ENOENT|closed/i.test(e.message) && !/^[0-9A-Z]{5}$/.test(e.code ?? '')) {
      throw new PytiError('PYTI_DB_UNAVAILABLE', `${this.name}: ${e.message}`);
    }
    const err = new Error(`${e.message}${e.detail ? ` (${e.detail})` : ''} [PostgreSQL ${e.code}${source ? ` in: ${source.replace(/\s+/g, ' ').trim().slice(0, 300)}` : ''}]`);
    Object.assign(err, { code: SQLITE_CODES[e.code] ?? `PG_${e.code}`, pgCode: e.code });
    throw err;
  }
}

interface Catalog {
  identity: Map<string, string>;
  keys: Map<string, string[]>;
  columns: Map<string, string[]>;
}

function isNamedArgs(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Uint8Array);
}

function toPg(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  return v;
}
