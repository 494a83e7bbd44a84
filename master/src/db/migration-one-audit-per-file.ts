/**
 * The migration for one audit per file and upload-to-verdict latency (issue 14, operations):
 *
 * - `jobs.dedupe_key`: what makes two submissions the same audit (queue/audit-identity.ts): the
 *   uploaded file's sha256, or the index file's project, version and name, with the backend (whose
 *   plan and image the audit runs). Filled for existing jobs; indexed with `seq` (newest first).
 * - `jobs.uploaded_at`: when the index says the file was uploaded (ms), for the latency from upload
 *   to verdict; null for submissions, whose latency counts from `submitted_at`.
 * - `subscription_jobs` rebuilt so that several subscriptions can link one audit: its key becomes
 *   (subscription, release, file) and `job_id` an indexed column (it was the primary key). Nothing
 *   references the table, so the rebuild (create, copy in insertion order, drop, rename) is safe.
 *
 * Portable SQL only (no AUTOINCREMENT, no rowid, no SQLite functions).
 */
import { projectKeySql } from './migration-project-key.js';

/** The migration's SQL (appended to MIGRATIONS). */
export const ONE_AUDIT_PER_FILE_MIGRATION = `
  ALTER TABLE jobs ADD COLUMN dedupe_key TEXT;
  ALTER TABLE jobs ADD COLUMN uploaded_at INTEGER;
  UPDATE jobs SET dedupe_key = 'upload:' || upload_sha256 || ':' || backend WHERE source_kind = 'upload' AND upload_sha256 IS NOT NULL;
  UPDATE jobs SET dedupe_key = 'index:' || ${projectKeySql('project')} || ':' || version || ':' || COALESCE(filename, '*') || ':' || backend WHERE source_kind = 'index';
  CREATE INDEX jobs_dedupe ON jobs (dedupe_key, seq);
  CREATE TABLE subscription_jobs_v2 (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    normalized TEXT NOT NULL,
    version TEXT NOT NULL,
    filename TEXT NOT NULL,
    serial INTEGER NOT NULL,
    release_state TEXT NOT NULL DEFAULT 'active' CHECK (release_state IN ('active', 'yanked', 'removed')),
    dropped_reason TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, normalized, version, filename)
  );
  INSERT INTO subscription_jobs_v2 (job_id, subscription_id, normalized, version, filename, serial, release_state, dropped_reason, created_at)
  SELECT job_id, subscription_id, normalized, version, filename, serial, release_state, dropped_reason, created_at
  FROM subscription_jobs ORDER BY created_at, serial, job_id;
  DROP TABLE subscription_jobs;
  ALTER TABLE subscription_jobs_v2 RENAME TO subscription_jobs;
  CREATE INDEX subscription_jobs_release ON subscription_jobs (normalized, version);
  CREATE INDEX subscription_jobs_sub ON subscription_jobs (subscription_id);
  CREATE INDEX subscription_jobs_job ON subscription_jobs (job_id);
`;
