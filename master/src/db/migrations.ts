/**
 * The master database's schema, as numbered migrations applied in order. Version N is
 * `MIGRATIONS[N - 1]`; a database with a higher version than the last one here was written by a
 * newer PyTI and is refused.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: jobs (one per audit), attempts (one per lease), slaves, pending slave commands, reports,
  //    artifacts and progress events.
  `
  CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    source_kind TEXT NOT NULL CHECK (source_kind IN ('index', 'upload')),
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    filename TEXT,
    upload_sha256 TEXT,
    upload_size INTEGER,
    backend TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'error', 'cancelled')),
    verdict TEXT,
    result TEXT,
    findings INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    submitted_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    slave TEXT,
    current_lease TEXT,
    progress_phase TEXT,
    progress_task TEXT,
    progress_tasks_done INTEGER NOT NULL DEFAULT 0,
    progress_log TEXT
  );
  CREATE INDEX jobs_queue ON jobs (state, priority DESC, seq);
  CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    job_seq INTEGER NOT NULL REFERENCES jobs (seq) ON DELETE CASCADE,
    slave TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    leased_at INTEGER NOT NULL,
    lease_expires_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'expired', 'completed', 'retried', 'voided')),
    reason TEXT,
    ended_at INTEGER
  );
  CREATE INDEX attempts_job ON attempts (job_seq, attempt);
  CREATE INDEX attempts_active ON attempts (state, lease_expires_at);
  CREATE INDEX attempts_slave ON attempts (slave, state);
  CREATE TABLE slaves (
    name TEXT PRIMARY KEY,
    host TEXT,
    version TEXT,
    capabilities TEXT,
    registered_at INTEGER,
    last_seen INTEGER,
    draining INTEGER NOT NULL DEFAULT 0,
    drain_requested INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE slave_commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slave TEXT NOT NULL,
    command TEXT NOT NULL
  );
  CREATE INDEX slave_commands_slave ON slave_commands (slave, id);
  CREATE TABLE reports (
    job_seq INTEGER PRIMARY KEY REFERENCES jobs (seq) ON DELETE CASCADE,
    report TEXT NOT NULL,
    prefetch TEXT,
    stored_at INTEGER NOT NULL
  );
  CREATE TABLE artifacts (
    job_seq INTEGER NOT NULL REFERENCES jobs (seq) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (job_seq, name)
  );
  CREATE TABLE progress_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_seq INTEGER NOT NULL REFERENCES jobs (seq) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL
  );
  CREATE INDEX progress_job ON progress_events (job_seq, id);
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;
