/**
 * The master's user API: REST over HTTP, JSON, `Authorization: Bearer <user token>` (reads may be
 * open when the master runs with `--public-read`). Used by `pyti submit|status|report` and by the
 * web pages' live progress. These types are the contract between the master's routes, its pages and
 * the CLI client.
 *
 *   POST /api/v1/audits                      body {project, version, filename?, priority?, backend?} → 202 AuditSummary
 *   POST /api/v1/audits/upload?filename=F&priority=P&backend=B
 *                                            body: the sdist or wheel bytes (application/octet-stream) → 202 AuditSummary
 *   GET  /api/v1/audits?state=S&verdict=V&result=R&project=P&q=TEXT&subscription=S&rule=RULE&backend=B&slave=S&since=D&until=D
 *                       &commit=HEX&limit=N&offset=N|after=ID
 *                                            → { audits: AuditSummary[], total, limit, offset, counts } (newest first; filters and
 *                                            counts: search/audit-filter.ts and search/audit-search.ts)
 *   GET  /api/v1/audits/:id                  → AuditDetail (with `history`: the previous release's audit and the previous audit of the same file)
 *   GET  /api/v1/projects/:name              → ProjectHistoryBody (http/history-routes.ts): releases newest first, each with its audits
 *   GET  /api/v1/diff?from=ID&to=ID | ?project=P&from=VERSION&to=VERSION → AuditDiff (diff/audit-diff-types.ts)
 *   GET  /projects/:name, /projects/:name/diff?from=A&to=B → HTML project page and release diff
 *   GET  /api/v1/audits/:id/report.json      → the AuditReport JSON (404 until done)
 *   GET  /api/v1/audits/:id/report.html      → the HTML report
 *   GET  /api/v1/audits/:id/artifacts/*      → one raw artifact (text/plain or octet-stream; 410 PYTI_RAW_PRUNED once gc deleted it)
 *   POST /api/v1/audits/:id/cancel           → AuditSummary
 *   GET  /api/v1/audits/:id/trace?phase=&kind=files|processes|network&owner=package|tooling|all&q=&offset=&limit=
 *                                            → TraceAnswer (master/src/trace/trace-viewer.ts): one page of a phase's rows
 *   GET  /audits/:id/trace?…                 → HTML trace viewer;  GET /audits/:id/raw/<file>?line=N&context=C → HTML raw lines
 *   GET  /                                   → HTML list of audits (red: malicious/failed/error, orange: suspicious, green: clean), live progress
 *   GET  /audits/:id                         → HTML page of one audit (its report when done, live progress before)
 *
 *   GET    /api/v1/subscriptions             → { subscriptions: SubscriptionSummary[] }
 *   POST   /api/v1/subscriptions             body SubscriptionCreateRequest → 201 SubscriptionSummary (409 PYTI_SUBSCRIPTION_EXISTS)
 *   GET    /api/v1/subscriptions/:name       → SubscriptionSummary (404 PYTI_SUBSCRIPTION_NOT_FOUND)
 *   PATCH  /api/v1/subscriptions/:name       body SubscriptionUpdateRequest (pause/resume, priority, backend, backlog) → SubscriptionSummary
 *   DELETE /api/v1/subscriptions/:name       → { removed: SubscriptionSummary, cancelled: number } (its queued audits are cancelled)
 *   GET    /api/v1/subscriptions/:name/audits?limit=N → { audits: SubscriptionAudit[] } (newest first)
 *   GET    /api/v1/feed                      → FeedStatus (the change-log cursor, lag, last poll and error)
 *   GET    /api/v1/feed/quarantine           → {items: [...]} change-log entries and releases set aside (code, reason, serial)
 *   GET    /api/v1/project-status            → {projects: [...]} PEP 792 statuses other than active, with the audits before each change
 *
 * Errors: `{ error: { code: 'PYTI_…', message } }` with a 4xx/5xx status; a bad subscription field is
 * 400 PYTI_SUBSCRIPTION_INVALID naming the field.
 */

import type { AuditHistoryLinks } from './projects/project-history.js';

/** Where an audit is in its life. `done` has a report; `error` ended without one (see `error`). */
export type AuditState = 'queued' | 'running' | 'done' | 'error' | 'cancelled';

/**
 * The verdict once done, recomputed by the master from the report's findings (see the slave's
 * `judge`); `error` when state is `error`. `flagged` only in audits stored before verdicts had scores.
 */
export type AuditVerdict = 'malicious' | 'suspicious' | 'clean' | 'failed' | 'error' | 'flagged';

export interface SubmitByNameRequest {
  project: string;
  version: string;
  /** A particular file of the release; default: its sdist, else a pure wheel. */
  filename?: string;
  /** Higher runs first; default 0; -100..100. */
  priority?: number;
  /** Backend to audit on; default the master's default (`bwrap`). */
  backend?: string;
  /** Audit again even when this file was already audited on this backend (default false: the existing audit is returned). */
  force?: boolean;
}

/**
 * The answer to a submission by name or upload: the audit, and whether it is an earlier audit of the
 * same file on the same backend (queued, running or done, not failed) that was returned instead of
 * queueing another (HTTP 200; a new audit is 202). `force` audits again.
 */
export type SubmitAnswer = AuditSummary & { reused: boolean };

export interface AuditSummary {
  id: string;
  state: AuditState;
  verdict: AuditVerdict | null;
  /** The master's score of the findings (≥ 100 is malicious), once done. */
  score: number | null;
  /** The report's result taxonomy string (`pass`, `test-fail`, `error:job-timeout`, …), once done. */
  result: string | null;
  /** `git`: a commit of a repository a git subscription follows (see `git`). */
  source: 'index' | 'upload' | 'git';
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
  /** For `source: 'git'`: the repository, branch and commit (40 hex digits) audited; the version is the commit id. */
  git: AuditGitSource | null;
}

/** The commit a git audit is of. */
export interface AuditGitSource {
  repo: string;
  branch: string;
  commit: string;
}

export interface AuditDetail extends AuditSummary {
  /**
   * Artifacts of the report (raw data), with their download paths. `pruned`: the file is no longer
   * stored (its download answers 410 PYTI_RAW_PRUNED); `at`/`reason` are the retention gc's record
   * (`pyti master gc`), null when it went otherwise.
   */
  artifacts: { name: string; sizeBytes: number; sha256: string; url: string; pruned?: { at: string | null; reason: string | null } }[];
  /** What the slave prefetched (see PrefetchSummary in the command protocol). */
  prefetch: {
    wheels: string[]; downloaded: number; error?: string; durationMs: number;
    /** The test requirements: resolved (with `sources[i]` for `requirements[i]`) and unresolved (with pip's reason). */
    testRequirements?: { requirements: string[]; unresolved: { requirement: string; reason: string }[]; sources: string[]; relaxed?: { requirement: string; relaxedTo: string }[] };
  } | null;
  /** Every attempt (lease) of the job, oldest first: which slave, how it ended and why. */
  attemptLog: { attempt: number; slave: string; state: string; reason: string | null; leasedAt: string; endedAt: string | null }[];
  /** Recent progress events (newest last, at most 200). */
  events: { at: string; kind: string; text: string }[];
  /** The observation reported to the index for this audited file (malicious verdicts, when configured). */
  observation: AuditObservation | null;
  /**
   * Upload-to-verdict latency: from the index's upload of the file (`from: 'upload'`, known for audits a
   * subscription submitted) or else the submission, to the stored report (`ms` null until there is one).
   */
  verdictLatency: { from: 'upload' | 'submission'; since: string; ms: number | null };
  /** `GET /api/v1/audits/:id` only: the audits before this one (see projects/project-history.ts). */
  history?: AuditHistoryLinks | null;
  /** `GET /api/v1/audits/:id` only: the project's PEP 792 status when not active (`quarantinedAfter`: quarantined after this audit finished). */
  projectStatus?: { status: string; reason: string | null; changedAt: string; quarantinedAfter: boolean } | null;
}

/** The state of one observation sent to the index (PyPI's observations API). */
export interface AuditObservation {
  state: 'pending' | 'sent' | 'failed';
  attempts: number;
  /** Why the last attempt failed. */
  error: string | null;
  sentAt: string | null;
  /** The audit whose verdict caused it (another audit of the same file may have). */
  jobId: string;
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

// ---- subscriptions (src/subscriptions) ------------------------------------------------------------

/**
 * What a subscription follows. `all`: every upload; `projects`: the listed projects (PEP 503
 * normalized); `pattern`: normalized names matching a glob (`*`, `?`); `new-projects`: the first
 * release of projects created while the master follows the index; `git`: the commits of a branch of
 * a git repository (src/git). Other kinds may be added by other modules; the kind is an open string in
 * the database and the API.
 */
export type SubscriptionKind = 'all' | 'projects' | 'pattern' | 'new-projects' | 'git' | (string & {});

/** What happens when a subscription has more queued audits than its backlog limit. */
export type BacklogPolicy = 'drop-oldest' | 'pause';

export interface SubscriptionCreateRequest {
  /** 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit); unique. */
  name: string;
  kind: SubscriptionKind;
  /** `projects`: the project names (normalized when stored; 1..1000). */
  projects?: string[];
  /** `pattern`: a glob on normalized names, e.g. `django-*`. */
  pattern?: string;
  /**
   * `git`: the repository, an absolute local path or a `file://`, `https://`, `http://`, `ssh://` or
   * `git://` URL, or scp-like `user@host:path` (no credentials in http(s) URLs).
   */
  repo?: string;
  /** `git`: the branch followed (checked with `git check-ref-format --branch`). */
  branch?: string;
  /** -100..100, default 0: the priority of the audits it submits. */
  priority?: number;
  /** The backend its audits run on (default: the master's). */
  backend?: string;
  /** Most queued audits it may have (default: no limit). */
  backlog?: number | null;
  /** What to do past the limit (default `drop-oldest`). */
  onBacklog?: BacklogPolicy;
}

/** A change to a subscription: any subset of these fields. `paused: false` resumes and clears the reason. */
export interface SubscriptionUpdateRequest {
  paused?: boolean;
  priority?: number;
  /** null: the master's default. */
  backend?: string | null;
  /** null: no limit. */
  backlog?: number | null;
  onBacklog?: BacklogPolicy;
}

export interface SubscriptionSummary {
  name: string;
  kind: SubscriptionKind;
  /** The kind's parameters as stored (`{projects: [...]}` normalized, `{pattern}`, `{}`). */
  spec: Record<string, unknown>;
  priority: number;
  backend: string | null;
  paused: boolean;
  /** Why it is paused (`by a user`, or the backlog limit it reached). */
  pausedReason: string | null;
  pausedAt: string | null;
  backlog: { limit: number | null; policy: BacklogPolicy };
  counts: {
    /** Releases it matched while not paused. */
    matched: number;
    /** Audits it submitted. */
    submitted: number;
    /** Of those, queued now. */
    queued: number;
    /** Queued audits cancelled to keep within the backlog limit (`drop-oldest`). */
    dropped: number;
    /** Queued audits cancelled because their release or file was yanked or removed. */
    cancelled: number;
    /** Releases it would have matched while paused (not audited). */
    skipped: number;
  };
  createdAt: string;
  updatedAt: string;
  /** For `git` subscriptions: the cursor, the branch's head when last fetched, the last poll and its error. */
  git?: GitFollowStatus;
}

/** How a git subscription follows its branch. */
export interface GitFollowStatus {
  /** The last commit processed (audited, or skipped while paused); null until the first successful poll. */
  cursor: string | null;
  /** The branch's head when last fetched. */
  head: string | null;
  /** Commits audited so far. */
  commitsAudited: number;
  /** Times the branch was rewritten (the cursor was not an ancestor of the new head). */
  forcePushes: number;
  lastPollAt: string | null;
  lastSuccessAt: string | null;
  /** The last poll's error (`PYTI_GIT_*`), cleared by a successful poll. */
  lastError: { code: string; message: string; at: string } | null;
  /** The last notable thing a poll did (a force-push, a commit skipped), with its time. */
  lastNote: { text: string; at: string } | null;
}

/** An audit a subscription submitted, with the state of its release on the index. */
export interface SubscriptionAudit {
  audit: AuditSummary;
  project: string;
  version: string;
  /** For git subscriptions: the archive `<project>-<commit>.tar.gz`; the version is the commit id. */
  filename: string;
  /** The change-log serial that produced it (0 for git subscriptions). */
  serial: number;
  /** `yanked` / `removed` once the index yanked or removed its release or file. */
  releaseState: 'active' | 'yanked' | 'removed';
  /** Why the subscription cancelled it (backlog), if it did. */
  droppedReason: string | null;
}

/** The master's view of the index's change log. */
export interface FeedStatus {
  indexUrl: string;
  /** Whether the master polls the index now. */
  following: boolean;
  /** The last serial processed (null before the first poll). */
  cursor: number | null;
  /** The index's last serial when last asked. */
  indexSerial: number | null;
  /** indexSerial − cursor, when both are known. */
  lag: number | null;
  lastPollAt: string | null;
  lastSuccessAt: string | null;
  /** The last poll's error, cleared by a successful poll. */
  lastError: { code: string; message: string; at: string } | null;
  eventsIngested: number;
  /** `other` actions and actions on releases nobody follows. */
  eventsIgnored: number;
  rss: { lastPollAt: string | null; lastError: { code: string; message: string } | null; gaps: number };
  /** Change-log entries and releases set aside instead of stalling the follower (`GET /api/v1/feed/quarantine`). */
  quarantined?: number;
  /** How the index is followed (`pyti master --feed`). */
  mode?: 'changelog' | 'simple' | 'both';
  /** The PEP 691 `/simple/` follower (feed `simple` or `both`). */
  simple?: SimpleFeedStatus;
}

/** The PEP 691 `/simple/` follower's state. */
export interface SimpleFeedStatus {
  following: boolean;
  /** When it started following: files uploaded more than 14 days before are never submitted. */
  startedAt: string;
  /** The root listing's `_last-serial` when last fully processed. */
  rootSerial: number | null;
  lastPollAt: string | null;
  lastSuccessAt: string | null;
  lastError: { code: string; message: string } | null;
  /** Passes answered 304 (nothing fetched). */
  notModified: number;
  pagesFetched: number;
  filesFound: number;
}
