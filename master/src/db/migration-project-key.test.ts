// The project-key migration on a real SQLite database: existing jobs get their normalized name, triggers
// keep it for new and renamed jobs, and the SQL normalization agrees with PEP 503's.
import Database from 'better-sqlite3';
import { migrate } from './database.js';
import { MIGRATIONS } from './migrations.js';
import { projectKey, projectKeySql } from './migration-project-key.js';

const NAMES = ['requests', 'Zope.Interface', 'ruamel.yaml.clib', 'typing_extensions', 'A-_.B', 'x__y..z--w', 'a-._-._-._-._-._-._-b', 'UPPER_case.Mixed-1', `a${'-_.'.repeat(66)}b`];

describe('project key migration', () => {
  it('normalizes existing jobs, and triggers keep new and renamed jobs normalized', () => {
    const db = new Database(':memory:');
    const index = MIGRATIONS.findIndex((m) => m.includes('project_key'));
    expect(migrate(db, MIGRATIONS.slice(0, index))).toBe(index);
    const insert = db.prepare(`INSERT INTO jobs (id, source_kind, project, version, backend, state, max_attempts, submitted_at)
      VALUES (?, 'index', ?, '1.0', 'bwrap', 'queued', 3, 0)`);
    insert.run('old', 'Zope.Interface');
    migrate(db);
    const key = (id: string): unknown => (db.prepare('SELECT project_key FROM jobs WHERE id = ?').get(id) as { project_key: unknown }).project_key;
    expect(key('old')).toBe('zope-interface');
    insert.run('new', 'Typing__Extensions');
    expect(key('new')).toBe('typing-extensions');
    db.prepare("UPDATE jobs SET project = 'Ruamel.Yaml' WHERE id = 'new'").run();
    expect(key('new')).toBe('ruamel-yaml');
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT * FROM jobs WHERE project_key = 'x' ORDER BY seq DESC").all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toContain('jobs_project_key');
    db.close();
  });

  it('computes in SQL the same PEP 503 name as in TypeScript', () => {
    const db = new Database(':memory:');
    for (const n of NAMES) {
      const sql = (db.prepare(`SELECT ${projectKeySql('?')} AS k`).get(n) as { k: string }).k;
      expect([n, sql]).toEqual([n, projectKey(n)]);
    }
    db.close();
  });
});
