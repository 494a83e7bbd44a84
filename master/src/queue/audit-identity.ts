/**
 * When two submissions are the same audit (one audit per file): the same uploaded bytes (sha256), or
 * the same file of an index release (normalized project, version, file name; `*` for "the file the
 * slave picks"), audited on the same backend — the backend fixes the plan and the image the audit
 * runs. Git commits have no key (their subscriptions keep their own per-commit links).
 *
 * An audit with the key is reused while it is queued or running, or done with a result that is not
 * an infrastructure failure (`error:*`); an audit that ended in error or was cancelled is not.
 */
import { projectKey } from '../db/migration-project-key.js';
import type { SubmitSource } from './job-queue.js';

/** The dedupe key of a submission of `source` on `backend`, or null when it has none (git). Same as the migration's backfill. */
export function dedupeKeyOf(source: SubmitSource, backend: string): string | null {
  if (source.kind === 'upload') return `upload:${source.sha256}:${backend}`;
  if (source.kind === 'index') return `index:${projectKey(source.project)}:${source.version}:${source.filename ?? '*'}:${backend}`;
  return null;
}

/** The SQL condition (on `jobs`) of an audit that a new submission with its key may reuse. */
export const REUSABLE_AUDIT_SQL = `(state IN ('queued', 'running') OR (state = 'done' AND (result IS NULL OR result NOT LIKE 'error:%')))`;
