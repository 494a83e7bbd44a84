/**
 * The migration that makes audits findable by project (project pages, `?project=` and `?q=` filters):
 * `jobs.project_key`, the PEP 503 normalized project name, kept by triggers on insert and on a change
 * of `project` (so the queue's own INSERT needs no change), and indexes by project and by submission time.
 *
 * SQL cannot run a regular expression, so the key is computed with nested `replace`: `_` and `.`
 * become `-`, then runs of `-` are halved eight times (runs of up to 256 separators, longer than any valid name, become one), lower
 * case. `projectKey` (below) is the same function in TypeScript; keep the two equal.
 */

/** The SQL expression of the normalized name of the column or value `col`. */
export function projectKeySql(col: string): string {
  let e = `replace(replace(${col}, '_', '-'), '.', '-')`;
  for (let i = 0; i < 8; i++) e = `replace(${e}, '--', '-')`;
  return `lower(${e})`;
}

/** PEP 503 normalized project name, as the migration's triggers store it. */
export function projectKey(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** The migration's SQL (appended to MIGRATIONS). */
export const PROJECT_KEY_MIGRATION = `
  ALTER TABLE jobs ADD COLUMN project_key TEXT;
  UPDATE jobs SET project_key = ${projectKeySql('project')};
  CREATE INDEX jobs_project_key ON jobs (project_key, seq);
  CREATE INDEX jobs_submitted_at ON jobs (submitted_at);
  CREATE TRIGGER jobs_project_key_insert AFTER INSERT ON jobs FOR EACH ROW
  BEGIN UPDATE jobs SET project_key = ${projectKeySql('NEW.project')} WHERE seq = NEW.seq; END;
  CREATE TRIGGER jobs_project_key_update AFTER UPDATE OF project ON jobs FOR EACH ROW
  BEGIN UPDATE jobs SET project_key = ${projectKeySql('NEW.project')} WHERE seq = NEW.seq; END;
`;
