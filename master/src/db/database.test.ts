import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase, schemaVersion, SCHEMA_VERSION } from './database.js';

describe('master database', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'pyti-db-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens in WAL with foreign keys, at the current schema', () => {
    const db = openDatabase(join(dir, 'm.db'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    db.close();
    const again = openDatabase(join(dir, 'm.db'));
    expect(schemaVersion(again)).toBe(SCHEMA_VERSION);
    again.close();
  });

  it('applies only the missing migrations', () => {
    const db = openDatabase(':memory:');
    expect(migrate(db, [...Array(SCHEMA_VERSION).fill('SELECT 1'), 'CREATE TABLE extra (x)'])).toBe(SCHEMA_VERSION + 1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'extra'").get()).toEqual({ name: 'extra' });
    db.close();
  });

  it('refuses a database from a newer PyTI', () => {
    const path = join(dir, 'm.db');
    const db = openDatabase(path);
    db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 5);
    db.close();
    expect(() => openDatabase(path)).toThrow(expect.objectContaining({ code: 'PYTI_DB_SCHEMA', message: expect.stringMatching(/newer/) }));
  });
});
