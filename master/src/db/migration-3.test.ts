// Migration 3 rebuilds `jobs` (a new CHECK and the git columns): a database at version 2 with jobs,
// attempts, reports, artifacts, events and subscription links must come through with nothing lost,
// and the foreign keys of the other tables must point at the rebuilt table.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrate, openDatabase, schemaVersion } from './database.js';
import { MIGRATIONS } from './migrations.js';

describe('migration 3 (jobs rebuilt for git sources)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'pyti-mig3-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A version-2 database with two jobs and everything that hangs off them. */
  function version2(path: string): void {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    expect(migrate(db, MIGRATIONS.slice(0, 2))).toBe(2);
    const job = db.prepare(`INSERT INTO jobs (id, source_kind, project, version, filename, upload_sha256, upload_size, backend, priority, state,
      verdict, result, findings, attempts, max_attempts, submitted_at, started_at, finished_at, slave) VALUES (?, ?, ?, ?, ?, ?, ?, 'bwrap', ?, ?, ?, ?, ?, ?, 3, ?, ?, ?, ?)`);
    job.run('aDone', 'upload', 'foo', '1.0', 'foo-1.0.tar.gz', 'a'.repeat(64), 1234, 5, 'done', 'clean', 'pass', 0, 1, 1000, 1100, 1200, 's1');
    job.run('aQueued', 'index', 'bar', '2.0', null, null, null, 0, 'queued', null, null, null, 0, 2000, null, null, null);
    db.prepare(`INSERT INTO attempts (id, job_seq, slave, attempt, leased_at, lease_expires_at, state, reason, ended_at) VALUES ('l1', 1, 's1', 1, 1100, 2100, 'completed', 'completed: pass', 1200)`).run();
    db.prepare(`INSERT INTO reports (job_seq, report, prefetch, stored_at) VALUES (1, '{"verdict":"clean"}', '{"wheels":[]}', 1200)`).run();
    db.prepare(`INSERT INTO artifacts (job_seq, name, sha256, size) VALUES (1, 'raw/install/install.strace', ?, 99)`).run('b'.repeat(64));
    db.prepare(`INSERT INTO progress_events (job_seq, at, kind, text) VALUES (1, 1150, 'phase', 'auditing')`).run();
    db.prepare(`INSERT INTO subscriptions (name, kind, spec, created_at, updated_at) VALUES ('web', 'projects', '{"projects":["bar"]}', 1, 1)`).run();
    db.prepare(`INSERT INTO subscription_jobs (job_id, subscription_id, normalized, version, filename, serial, created_at) VALUES ('aQueued', 1, 'bar', '2.0', 'bar-2.0.tar.gz', 7, 2000)`).run();
    // A deleted job leaves the AUTOINCREMENT counter above the highest seq: it must not be reused.
    job.run('aGone', 'index', 'gone', '1', null, null, null, 0, 'cancelled', null, null, null, 0, 3000, null, null, null);
    db.prepare(`DELETE FROM jobs WHERE id = 'aGone'`).run();
    db.close();
  }

  it('keeps every job, attempt, report, artifact, event and link, and the foreign keys point at the new table', () => {
    const path = join(dir, 'm.db');
    version2(path);
    const db = openDatabase(path);
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('foreign_key_check')).toEqual([]);
    expect(db.prepare('SELECT seq, id, source_kind, project, version, filename, upload_sha256, upload_size, priority, state, verdict, result, attempts, slave, git_commit FROM jobs ORDER BY seq').all()).toEqual([
      { seq: 1, id: 'aDone', source_kind: 'upload', project: 'foo', version: '1.0', filename: 'foo-1.0.tar.gz', upload_sha256: 'a'.repeat(64), upload_size: 1234, priority: 5, state: 'done', verdict: 'clean', result: 'pass', attempts: 1, slave: 's1', git_commit: null },
      { seq: 2, id: 'aQueued', source_kind: 'index', project: 'bar', version: '2.0', filename: null, upload_sha256: null, upload_size: null, priority: 0, state: 'queued', verdict: null, result: null, attempts: 0, slave: null, git_commit: null },
    ]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM attempts').get()).toEqual({ n: 1 });
    expect(db.prepare('SELECT report FROM reports WHERE job_seq = 1').get()).toEqual({ report: '{"verdict":"clean"}' });
    expect(db.prepare('SELECT COUNT(*) AS n FROM artifacts').get()).toEqual({ n: 1 });
    expect(db.prepare('SELECT COUNT(*) AS n FROM progress_events').get()).toEqual({ n: 1 });
    expect(db.prepare('SELECT job_id FROM subscription_jobs').all()).toEqual([{ job_id: 'aQueued' }]);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND name NOT LIKE 'sqlite_%' ORDER BY name").all())
      .toEqual([{ name: 'jobs_dedupe' }, { name: 'jobs_git_commit' }, { name: 'jobs_project_key' }, { name: 'jobs_queue' }, { name: 'jobs_submitted_at' }, { name: 'jobs_upload_sha256' }]);

    // New rows continue after the highest seq ever used; git jobs need their commit, others must not have one.
    const insert = db.prepare(`INSERT INTO jobs (id, source_kind, project, version, upload_sha256, upload_size, git_repo, git_branch, git_commit, backend, state, max_attempts, submitted_at)
      VALUES (?, ?, 'pkg', ?, ?, 10, ?, ?, ?, 'bwrap', 'queued', 3, 4000)`);
    insert.run('aGit', 'git', 'c'.repeat(40), 'd'.repeat(64), '/srv/repo', 'main', 'c'.repeat(40));
    expect(db.prepare(`SELECT seq FROM jobs WHERE id = 'aGit'`).get()).toEqual({ seq: 4 });
    expect(() => insert.run('aBad1', 'git', 'x', null, '/srv/repo', 'main', null)).toThrow(/CHECK/);
    expect(() => insert.run('aBad2', 'git', 'x', null, '/srv/repo', 'main', 'C'.repeat(40))).toThrow(/CHECK/);
    expect(() => insert.run('aBad3', 'index', 'x', null, null, null, 'c'.repeat(40))).toThrow(/CHECK/);

    // The cascades of the other tables now follow the rebuilt jobs table.
    db.prepare(`DELETE FROM jobs WHERE id = 'aDone'`).run();
    expect(db.prepare('SELECT (SELECT COUNT(*) FROM attempts) + (SELECT COUNT(*) FROM reports) + (SELECT COUNT(*) FROM artifacts) + (SELECT COUNT(*) FROM progress_events) AS n').get()).toEqual({ n: 0 });
    db.close();
  });

  it('a migration that leaves a broken foreign key is rolled back', () => {
    const path = join(dir, 'm.db');
    version2(path);
    const db = new Database(path);
    db.pragma('foreign_keys = ON');
    const broken = [...MIGRATIONS.slice(0, 2), "INSERT INTO attempts (id, job_seq, slave, attempt, leased_at, lease_expires_at, state) VALUES ('orphan', 999, 's', 1, 0, 0, 'active')"];
    expect(() => migrate(db, broken)).toThrow(expect.objectContaining({ code: 'PYTI_DB_SCHEMA', message: expect.stringMatching(/version 3 failed: 1 rows break foreign keys \(first: attempts/) }));
    expect(schemaVersion(db)).toBe(2);
    expect(db.prepare(`SELECT COUNT(*) AS n FROM attempts WHERE id = 'orphan'`).get()).toEqual({ n: 0 });
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    db.close();
  });
});
