/**
 * The migrations on PostgreSQL: MIGRATIONS (migrations.ts), each translated by pg-sql.ts, except the
 * few whose SQLite statements cannot be translated (a table rebuild through sqlite_sequence,
 * triggers), which have an override here, keyed by the migration's own text (so renumbering the
 * list keeps each override with its migration). The resulting schema is the same: same tables,
 * columns, keys, checks and indexes.
 */
import { MIGRATIONS } from './migrations.js';
import { bytewiseText } from './pg-sql.js';
import { PROJECT_KEY_MIGRATION, projectKeySql } from './migration-project-key.js';

/** Migration 3 (git audits): SQLite rebuilds `jobs` to change a CHECK; PostgreSQL alters it. */
const GIT_JOBS_PG = `
  ALTER TABLE jobs ADD COLUMN git_repo TEXT;
  ALTER TABLE jobs ADD COLUMN git_branch TEXT;
  ALTER TABLE jobs ADD COLUMN git_commit TEXT CHECK (git_commit IS NULL OR (length(git_commit) = 40 AND git_commit !~ '[^0-9a-f]'));
  ALTER TABLE jobs DROP CONSTRAINT jobs_source_kind_check;
  ALTER TABLE jobs ADD CONSTRAINT jobs_source_kind_check CHECK (source_kind IN ('index', 'upload', 'git'));
  ALTER TABLE jobs ADD CONSTRAINT jobs_git_commit_kind CHECK ((source_kind = 'git') = (git_commit IS NOT NULL));
  CREATE INDEX jobs_git_commit ON jobs (git_commit) WHERE git_commit IS NOT NULL;
  CREATE TABLE git_cursors (
    subscription_id BIGINT PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
    last_commit TEXT,
    remote_head TEXT,
    commits_audited BIGINT NOT NULL DEFAULT 0,
    force_pushes BIGINT NOT NULL DEFAULT 0,
    last_poll_at BIGINT,
    last_success_at BIGINT,
    last_error_code TEXT,
    last_error_message TEXT,
    last_error_at BIGINT,
    last_note TEXT,
    last_note_at BIGINT
  );
`;

/** Migration 6 (project key): SQLite keeps jobs.project_key with triggers; PostgreSQL with a BEFORE trigger. */
const PROJECT_KEY_PG = `
  ALTER TABLE jobs ADD COLUMN project_key TEXT;
  UPDATE jobs SET project_key = ${projectKeySql('project')};
  CREATE INDEX jobs_project_key ON jobs (project_key, seq);
  CREATE INDEX jobs_submitted_at ON jobs (submitted_at);
  CREATE FUNCTION pyti_jobs_project_key() RETURNS trigger LANGUAGE plpgsql AS $f$
  BEGIN NEW.project_key := ${projectKeySql('NEW.project')}; RETURN NEW; END $f$;
  CREATE TRIGGER jobs_project_key BEFORE INSERT OR UPDATE OF project ON jobs FOR EACH ROW EXECUTE FUNCTION pyti_jobs_project_key();
`;

/** PostgreSQL text of a migration that must not be translated, by the SQLite migration's text. */
export const PG_OVERRIDES: ReadonlyMap<string, string> = new Map([
  [MIGRATIONS[2]!, GIT_JOBS_PG],
  [PROJECT_KEY_MIGRATION, PROJECT_KEY_PG],
]);

/** Marks native PostgreSQL text (run as it is, not translated). */
export const NATIVE_PG = '-- pyti:native-postgresql\n';

/** The migrations to run on PostgreSQL: overrides (native, marked) or the SQLite text (translated at exec). */
export function pgMigrations(migrations: readonly string[] = MIGRATIONS): string[] {
  return migrations.map((m) => {
    const o = PG_OVERRIDES.get(m);
    return o === undefined ? m : NATIVE_PG + bytewiseText(o);
  });
}
