import { testStores } from '../testing/store-kit.js';
import { SCHEMA_VERSION, schemaVersion, dialectOf, openDatabase, type Db } from './database.js';

const stores = testStores();

describe.each(stores.kinds)('the master store on %s', (kind) => {
  let db: Db;
  beforeEach(async () => { db = await stores.open(kind); });
  afterEach(() => db.close());

  it('migrates to the current schema and reopens without migrating again', async () => {
    expect(dialectOf(db)).toBe(kind);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
  });

  it('runs the statement forms the master uses: named and positional parameters, lastInsertRowid, changes, pluck, transactions', () => {
    const ins = db.prepare('INSERT INTO slave_commands (slave, command) VALUES (?, ?)');
    const a = ins.run('s1', 'x');
    const b = ins.run('s1', 'y');
    expect(a.changes).toBe(1);
    expect(Number(b.lastInsertRowid)).toBe(Number(a.lastInsertRowid) + 1);
    expect(db.prepare('SELECT command FROM slave_commands WHERE slave = @s ORDER BY id').pluck().all({ s: 's1' })).toEqual(['x', 'y']);
    expect(db.prepare('SELECT COUNT(*) AS n FROM slave_commands').get()).toEqual({ n: 2 });
    expect(() => db.transaction(() => {
      ins.run('s2', 'z');
      throw new Error('undo');
    })()).toThrow('undo');
    expect(db.prepare('SELECT COUNT(*) AS n FROM slave_commands WHERE slave = ?').get('s2')).toEqual({ n: 0 });
    db.transaction(() => {
      ins.run('s3', 'kept');
      try {
        db.transaction(() => { ins.run('s3', 'inner'); throw new Error('inner'); })();
      } catch { /* the savepoint is rolled back, the outer transaction goes on */ }
    })();
    expect(db.prepare('SELECT command FROM slave_commands WHERE slave = ?').pluck().all('s3')).toEqual(['kept']);
  });

  it('keeps going in a transaction after a caught constraint error, and names it like SQLite', () => {
    const now = 1_700_000_000_000;
    const add = db.prepare(`INSERT INTO subscriptions (name, kind, created_at, updated_at) VALUES (?, 'all', ?, ?)`);
    db.transaction(() => {
      add.run('one', now, now);
      let code: string | undefined;
      try { add.run('one', now, now); } catch (err) { code = (err as { code?: string }).code; }
      expect(code).toBe('SQLITE_CONSTRAINT_UNIQUE');
      add.run('two', now, now);
    })();
    expect(db.prepare('SELECT name FROM subscriptions ORDER BY name').pluck().all()).toEqual(['one', 'two']);
    // millisecond timestamps beyond 32 bits come back as numbers
    expect(db.prepare('SELECT created_at FROM subscriptions WHERE name = ?').pluck().get('one')).toBe(now);
  });

  it('runs SQLite JSON functions, INSERT OR IGNORE / OR REPLACE and scalar max', () => {
    expect(db.prepare(`SELECT value FROM json_each(?)`).pluck().all('["a","b"]')).toEqual(['a', 'b']);
    expect(db.prepare(`SELECT json_extract(?, '$.a.b') AS v`).pluck().get('{"a":{"b":"x"}}')).toBe('x');
    expect(db.prepare(`SELECT CASE WHEN json_valid(?) THEN 1 ELSE 0 END AS v`).pluck().get('{nope')).toBe(0);
    expect(db.prepare(`SELECT max(?, 5) AS v`).pluck().get(7)).toBe(7);
    const ins = db.prepare('INSERT OR IGNORE INTO feed_cursors (index_url) VALUES (?)');
    expect(ins.run('u').changes).toBe(1);
    expect(ins.run('u').changes).toBe(0);
    const rep = db.prepare('INSERT OR REPLACE INTO queue_samples (at, queued, running, finished) VALUES (?, ?, ?, ?)');
    rep.run(1, 1, 0, 0);
    rep.run(1, 5, 0, 0);
    expect(db.prepare('SELECT queued FROM queue_samples WHERE at = 1').pluck().get()).toBe(5);
  });
});

describe('a PostgreSQL URL that does not answer', () => {
  it('is PYTI_DB_UNAVAILABLE, without the password in the message', async () => {
    const { freePortForTest } = { freePortForTest: async () => { const net = await import('node:net'); return new Promise<number>((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); }); }); } };
    const url = `postgres://pyti:s3cret-pass@127.0.0.1:${await freePortForTest()}/pyti`;
    let err: unknown;
    try { openDatabase(url); } catch (e) { err = e; }
    expect(err).toMatchObject({ code: 'PYTI_DB_UNAVAILABLE', message: expect.stringMatching(/cannot connect/) });
    expect((err as Error).message).not.toContain('s3cret-pass');
  });
});
