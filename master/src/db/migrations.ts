/**
 * The master database's schema, as numbered migrations applied in order. Version N is
 * `MIGRATIONS[N - 1]`; a database with a higher version than the last one here was written by a
 * newer PyTI and is refused.
 */
import { PROJECT_KEY_MIGRATION } from './migration-project-key.js';
import { ONE_AUDIT_PER_FILE_MIGRATION } from './migration-one-audit-per-file.js';

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
  // 2: subscriptions to a package index's uploads (src/subscriptions): the subscriptions, the feed
  //    cursor per index URL, the releases, files and new projects seen in the change log, and the link
  //    from a job to the subscription, release and file it was submitted for.
  `
  CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL DEFAULT '{}',
    priority INTEGER NOT NULL DEFAULT 0,
    backend TEXT,
    paused INTEGER NOT NULL DEFAULT 0,
    paused_reason TEXT,
    paused_at INTEGER,
    backlog_limit INTEGER,
    backlog_policy TEXT NOT NULL DEFAULT 'drop-oldest' CHECK (backlog_policy IN ('drop-oldest', 'pause')),
    matched INTEGER NOT NULL DEFAULT 0,
    submitted INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    from_serial INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE feed_cursors (
    index_url TEXT PRIMARY KEY,
    last_serial INTEGER,
    index_last_serial INTEGER,
    last_poll_at INTEGER,
    last_success_at INTEGER,
    last_error_code TEXT,
    last_error_message TEXT,
    last_error_at INTEGER,
    events_ingested INTEGER NOT NULL DEFAULT 0,
    events_ignored INTEGER NOT NULL DEFAULT 0,
    rss_state TEXT,
    rss_last_poll_at INTEGER,
    rss_error_code TEXT,
    rss_error_message TEXT,
    rss_gaps INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE feed_projects (
    normalized TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_serial INTEGER,
    first_version TEXT,
    removed INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE feed_releases (
    normalized TEXT NOT NULL,
    version TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'yanked', 'removed')),
    state_reason TEXT,
    first_serial INTEGER NOT NULL,
    last_serial INTEGER NOT NULL,
    PRIMARY KEY (normalized, version)
  );
  CREATE TABLE feed_files (
    normalized TEXT NOT NULL,
    version TEXT NOT NULL,
    filename TEXT NOT NULL,
    packagetype TEXT,
    sha256 TEXT,
    state TEXT NOT NULL CHECK (state IN ('active', 'yanked', 'removed')),
    serial INTEGER NOT NULL,
    PRIMARY KEY (normalized, version, filename)
  );
  CREATE TABLE subscription_jobs (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    normalized TEXT NOT NULL,
    version TEXT NOT NULL,
    filename TEXT NOT NULL,
    serial INTEGER NOT NULL,
    release_state TEXT NOT NULL DEFAULT 'active' CHECK (release_state IN ('active', 'yanked', 'removed')),
    dropped_reason TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (subscription_id, normalized, version, filename)
  );
  CREATE INDEX subscription_jobs_release ON subscription_jobs (normalized, version);
  CREATE INDEX subscription_jobs_sub ON subscription_jobs (subscription_id);
  `,
  // 3: audits of git commits (src/git). SQLite cannot change a CHECK constraint, so `jobs` is rebuilt
  //    with SQLite's documented procedure (https://www.sqlite.org/lang_altertable.html#otheralter):
  //    create the new table, copy every row, drop the old one, rename the new one, recreate its
  //    indexes. `migrate` runs migrations with foreign keys OFF (else dropping `jobs` would delete
  //    the attempts, reports, artifacts, events and subscription links that reference it) and checks
  //    `PRAGMA foreign_key_check` before committing. A git job keeps its archive's sha256 and size in
  //    upload_sha256/upload_size (the blob a slave may fetch) and the commit in git_*. `git_cursors`
  //    holds each git subscription's cursor (the last commit processed) and its last poll and error.
  `
  CREATE TABLE jobs_v3 (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    source_kind TEXT NOT NULL CHECK (source_kind IN ('index', 'upload', 'git')),
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    filename TEXT,
    upload_sha256 TEXT,
    upload_size INTEGER,
    git_repo TEXT,
    git_branch TEXT,
    git_commit TEXT CHECK (git_commit IS NULL OR (length(git_commit) = 40 AND git_commit NOT GLOB '*[^0-9a-f]*')),
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
    progress_log TEXT,
    CHECK ((source_kind = 'git') = (git_commit IS NOT NULL))
  );
  INSERT INTO jobs_v3 (seq, id, source_kind, project, version, filename, upload_sha256, upload_size, backend, priority, state, verdict, result,
    findings, attempts, max_attempts, submitted_at, started_at, finished_at, cancel_requested, error_code, error_message, slave, current_lease,
    progress_phase, progress_task, progress_tasks_done, progress_log)
  SELECT seq, id, source_kind, project, version, filename, upload_sha256, upload_size, backend, priority, state, verdict, result,
    findings, attempts, max_attempts, submitted_at, started_at, finished_at, cancel_requested, error_code, error_message, slave, current_lease,
    progress_phase, progress_task, progress_tasks_done, progress_log
  FROM jobs;
  -- Keep the AUTOINCREMENT counter: seq values are never reused, even past deleted rows.
  INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs_v3', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs_v3');
  UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0)) WHERE name = 'jobs_v3';
  DROP TABLE jobs;
  ALTER TABLE jobs_v3 RENAME TO jobs;
  CREATE INDEX jobs_queue ON jobs (state, priority DESC, seq);
  CREATE INDEX jobs_git_commit ON jobs (git_commit) WHERE git_commit IS NOT NULL;
  CREATE TABLE git_cursors (
    subscription_id INTEGER PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
    last_commit TEXT,
    remote_head TEXT,
    commits_audited INTEGER NOT NULL DEFAULT 0,
    force_pushes INTEGER NOT NULL DEFAULT 0,
    last_poll_at INTEGER,
    last_success_at INTEGER,
    last_error_code TEXT,
    last_error_message TEXT,
    last_error_at INTEGER,
    last_note TEXT,
    last_note_at INTEGER
  );
  `,
  // 4: the master's score of each audit (recomputed from the report's findings), and the observations
  //    reported to the index for malicious verdicts: one per audited file (project, version,
  //    filename), with its body, state (pending → sent, or failed after its retries) and last error.
  `
  ALTER TABLE jobs ADD COLUMN score INTEGER;
  CREATE TABLE observations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_seq INTEGER NOT NULL REFERENCES jobs (seq) ON DELETE CASCADE,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    filename TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    UNIQUE (project, version, filename)
  );
  CREATE INDEX observations_due ON observations (state, next_at);
  `,
  // 5 (notifications, src/notify): webhooks (global, or for one subscription, with the events they
  //    take and their HMAC secret), and the notification outbox: one delivery per (channel, target,
  //    audit, event), written in the transaction that stores the report, then sent with retries
  //    (pending → sent, or failed with the last error and response code once its attempts are used up).
  `
  CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    subscription_id INTEGER REFERENCES subscriptions (id) ON DELETE CASCADE,
    events TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE notification_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
    target TEXT NOT NULL,
    job_seq INTEGER NOT NULL REFERENCES jobs (seq) ON DELETE CASCADE,
    event TEXT NOT NULL CHECK (event IN ('completed', 'flagged', 'regression')),
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    response_code INTEGER,
    next_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (channel, target, job_seq, event)
  );
  CREATE INDEX notification_deliveries_due ON notification_deliveries (state, next_at);
  CREATE INDEX notification_deliveries_target ON notification_deliveries (target, id);
  `,
  // 6 (project key): jobs.project_key, the PEP 503 normalized project name kept by triggers, and indexes by
  //    project and submission time, for project pages and the audit list's filters (migration-project-key.ts).
  PROJECT_KEY_MIGRATION,
  // 7 (cluster pages and seed submissions): samples of the queue's depth and of upload-to-verdict
  //    latency (one row per sampling tick, bounded retention: src/stats/queue-stats.ts), and
  //    submissions grouping several audits (a zip of several projects, a one-off git audit).
  `
  CREATE TABLE queue_samples (
    at INTEGER PRIMARY KEY,
    queued INTEGER NOT NULL,
    running INTEGER NOT NULL,
    finished INTEGER NOT NULL,
    p50_ms INTEGER,
    p95_ms INTEGER
  );
  CREATE TABLE submissions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('zip', 'git')),
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE submission_jobs (
    submission_id TEXT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    job_id TEXT NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
    entry TEXT NOT NULL,
    PRIMARY KEY (submission_id, position)
  );
  `,
  // 8 (retention gc, src/retention): the blobs gc deleted (an audit's raw data or distribution, or
  //    garbage nothing referenced), with their kind, size and when; the artifact rows stay, so an audit's
  //    page lists its pruned files and says when they went. A blob stored again later is simply present.
  //    Indexes on the columns naming blobs, for gc's per-blob re-check.
  `
  CREATE TABLE pruned_blobs (
    sha256 TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('archive', 'raw', 'orphan')),
    size INTEGER NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('age', 'size', 'unreferenced')),
    pruned_at INTEGER NOT NULL
  );
  -- gc re-reads each blob's references inside its transaction: by upload and by artifact.
  CREATE INDEX jobs_upload_sha256 ON jobs (upload_sha256) WHERE upload_sha256 IS NOT NULL;
  CREATE INDEX artifacts_sha256 ON artifacts (sha256);
  `,
  // 9 (following the index without XML-RPC, and surviving a hostile change log; issue 14 items 4 and 6):
  //    change-log entries and releases set aside instead of stalling the follower (feed_quarantine,
  //    subscriptions/feed-quarantine.ts); the PEP 691 /simple/ follower's state (ETag, per-project
  //    _last-serial, files seen: subscriptions/simple-follow-store.ts); PEP 792 project status as read
  //    from the index, per project (subscriptions/project-status-store.ts). Portable SQL only.
  `
  CREATE TABLE feed_quarantine (
    id TEXT PRIMARY KEY,
    index_url TEXT NOT NULL,
    source TEXT NOT NULL,
    serial TEXT,
    name TEXT,
    version TEXT,
    action TEXT,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    seen INTEGER NOT NULL
  );
  CREATE INDEX feed_quarantine_recent ON feed_quarantine (index_url, last_at);
  CREATE TABLE simple_follow (
    index_url TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    etag TEXT,
    root_serial INTEGER,
    last_poll_at INTEGER,
    last_success_at INTEGER,
    last_error_code TEXT,
    last_error_message TEXT,
    not_modified INTEGER NOT NULL DEFAULT 0,
    pages_fetched INTEGER NOT NULL DEFAULT 0,
    files_found INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE simple_projects (
    index_url TEXT NOT NULL,
    normalized TEXT NOT NULL,
    name TEXT NOT NULL,
    last_serial INTEGER NOT NULL,
    PRIMARY KEY (index_url, normalized)
  );
  CREATE TABLE simple_files (
    index_url TEXT NOT NULL,
    normalized TEXT NOT NULL,
    filename TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT,
    upload_ms INTEGER,
    serial INTEGER NOT NULL,
    PRIMARY KEY (index_url, normalized, filename)
  );
  CREATE TABLE project_status (
    normalized TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    reason TEXT,
    serial INTEGER,
    changed_at INTEGER NOT NULL,
    checked_at INTEGER NOT NULL
  );
  `,
  // 10 (ops: one audit per file, upload-to-verdict latency): jobs.dedupe_key and jobs.uploaded_at, and
  //    subscription_jobs keyed by (subscription, release, file) so that subscriptions share audits
  //    (migration-one-audit-per-file.ts).
  ONE_AUDIT_PER_FILE_MIGRATION,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;
