/**
 * The master's user API: REST over HTTP, JSON, `Authorization: Bearer <user token>` (reads may be
 * open when the master runs with `--public-read`). Used by `pyti submit|status|report` and by the
 * web pages' live progress. These types are the contract between the master's routes, its pages and
 * the CLI client.
 *
 *   POST /api/v1/audits                      body {project, version, filename?, priority?, backend?} → 202 AuditSummary
 *   POST /api/v1/audits/upload?filename=F&priority=P&backend=B
 *                                            body: the sdist or wheel bytes (application/octet-stream) → 202 AuditSummary
 *   GET  /api/v1/audits?state=S&limit=N&after=ID → { audits: AuditSummary[] } (newest first)
 *   GET  /api/v1/audits/:id                  → AuditDetail
 *   GET  /api/v1/audits/:id/report.json      → the AuditReport JSON (404 until done)
 *   GET  /api/v1/audits/:id/report.html      → the HTML report
 *   GET  /api/v1/audits/:id/artifacts/*      → one raw artifact (text/plain or octet-stream)
 *   POST /api/v1/audits/:id/cancel           → AuditSummary
 *   GET  /                                   → HTML list of audits (red: failed/flagged/error, green: clean), live progress
 *   GET  /audits/:id                         → HTML page of one audit (its report when done, live progress before)
 *
 * Errors: `{ error: { code: 'PYTI_…', message } }` with a 4xx/5xx status.
 */

/** Where an audit is in its life. `done` has a report; `error` ended without one (see `error`). */
export type AuditState = 'queued' | 'running' | 'done' | 'error' | 'cancelled';

/** The report's verdict once done (see slave's AuditReport.verdict); `error` when state is `error`. */
export type AuditVerdict = 'clean' | 'flagged' | 'failed' | 'error';

export interface SubmitByNameRequest {
  project: string;
  version: string;
  /** A particular file of the release; default: its sdist, else a pure wheel. */
  filename?: string;
  /** Higher runs first; default 0; -100..100. */
  priority?: number;
  /** Backend to audit on; default the master's default (`bwrap`). */
  backend?: string;
}

export interface AuditSummary {
  id: string;
  state: AuditState;
  verdict: AuditVerdict | null;
  /** The report's result taxonomy string (`pass`, `test-fail`, `error:job-timeout`, …), once done. */
  result: string | null;
  source: 'index' | 'upload';
  project: string;
  version: string;
  filename: string | null;
  backend: string;
  priority: number;
  /** Attempts started so far. */
  attempts: number;
  maxAttempts: number;
  /** ISO 8601 times. */
  submittedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The slave running or that ran the last attempt. */
  slave: string | null;
  /** Latest progress while running: phase and current task. */
  progress: { phase: string | null; task: string | null; tasksDone: number; log: string | null } | null;
  /** Number of findings above info, once done. */
  findings: number | null;
  /** Why the audit ended as `error` (code and message), with every attempt's reason. */
  error: { code: string; message: string; attempts: { attempt: number; reason: string }[] } | null;
}

export interface AuditDetail extends AuditSummary {
  /** Artifacts of the report (raw data), with their download paths. */
  artifacts: { name: string; sizeBytes: number; sha256: string; url: string }[];
  /** What the slave prefetched (see PrefetchSummary in the command protocol). */
  prefetch: { wheels: string[]; downloaded: number; error?: string; durationMs: number } | null;
  /** Every attempt (lease) of the job, oldest first: which slave, how it ended and why. */
  attemptLog: { attempt: number; slave: string; state: string; reason: string | null; leasedAt: string; endedAt: string | null }[];
  /** Recent progress events (newest last, at most 200). */
  events: { at: string; kind: string; text: string }[];
}

export interface ApiErrorBody {
  error: { code: string; message: string };
}

/**
 * Admin routes (user token, even with public read):
 *   GET  /api/v1/slaves                      → { slaves: SlaveSummary[] }
 *   POST /api/v1/slaves/:name/drain          → SlaveSummary (the slave finishes its jobs, leases no more)
 */
export interface SlaveSummary {
  name: string;
  host: string | null;
  version: string | null;
  /** As the slave registered them (SlaveCapabilities), or null before it registered. */
  capabilities: unknown;
  lastSeen: string | null;
  /** The slave says it is draining. */
  draining: boolean;
  /** An admin asked it to drain. */
  drainRequested: boolean;
  /** Leases it holds now. */
  activeLeases: number;
}
