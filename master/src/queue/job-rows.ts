/** Database rows of the queue and their conversion to the user API's shapes. */
import type { AuditDetail, AuditObservation, AuditState, AuditSummary, AuditVerdict } from '../user-api.js';

export interface JobRow {
  seq: number;
  id: string;
  source_kind: 'index' | 'upload' | 'git';
  project: string;
  version: string;
  filename: string | null;
  /** The uploaded distribution's blob, or a git job's archive. */
  upload_sha256: string | null;
  upload_size: number | null;
  git_repo: string | null;
  git_branch: string | null;
  git_commit: string | null;
  backend: string;
  priority: number;
  state: AuditState;
  verdict: AuditVerdict | null;
  /** The master's score (migration 4); null before it, or until done. */
  score: number | null;
  result: string | null;
  findings: number | null;
  attempts: number;
  max_attempts: number;
  submitted_at: number;
  started_at: number | null;
  finished_at: number | null;
  cancel_requested: number;
  error_code: string | null;
  error_message: string | null;
  slave: string | null;
  current_lease: string | null;
  progress_phase: string | null;
  progress_task: string | null;
  progress_tasks_done: number;
  progress_log: string | null;
  /** What makes two submissions the same audit (audit-identity.ts; migration 8); null for git. */
  dedupe_key?: string | null;
  /** The index's upload time of the file (ms), when known (migration 8). */
  uploaded_at?: number | null;
}

export interface AttemptRow {
  id: string;
  job_seq: number;
  slave: string;
  attempt: number;
  leased_at: number;
  lease_expires_at: number;
  state: 'active' | 'expired' | 'completed' | 'retried' | 'voided';
  reason: string | null;
  ended_at: number | null;
}

export interface ArtifactRow {
  name: string;
  sha256: string;
  size: number;
}

export interface EventRow {
  at: number;
  kind: string;
  text: string;
}

/** States after which nothing changes any more. */
export const FINISHED_STATES: ReadonlySet<AuditState> = new Set(['done', 'error', 'cancelled']);

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The user API's URL of one artifact of an audit. */
export function artifactUrl(jobId: string, name: string): string {
  return `/api/v1/audits/${encodeURIComponent(jobId)}/artifacts/${name.split('/').map(encodeURIComponent).join('/')}`;
}

/** A job row as the user API's AuditSummary; `attempts` are needed only for jobs ended as `error`. */
export function toSummary(j: JobRow, attempts: AttemptRow[] = []): AuditSummary {
  return {
    id: j.id,
    state: j.state,
    verdict: j.verdict,
    score: j.score ?? null,
    result: j.result,
    source: j.source_kind,
    project: j.project,
    version: j.version,
    filename: j.filename,
    backend: j.backend,
    priority: j.priority,
    attempts: j.attempts,
    maxAttempts: j.max_attempts,
    submittedAt: iso(j.submitted_at)!,
    startedAt: iso(j.started_at),
    finishedAt: iso(j.finished_at),
    slave: j.slave,
    progress: j.state === 'running'
      ? { phase: j.progress_phase, task: j.progress_task, tasksDone: j.progress_tasks_done, log: j.progress_log }
      : null,
    findings: j.findings,
    error: j.state === 'error'
      ? {
        code: j.error_code ?? 'PYTI_ATTEMPTS_EXHAUSTED',
        message: j.error_message ?? '',
        attempts: attempts.map((a) => ({ attempt: a.attempt, reason: a.reason ?? a.state })),
      }
      : null,
    git: j.source_kind === 'git' && j.git_commit !== null ? { repo: j.git_repo ?? '', branch: j.git_branch ?? '', commit: j.git_commit } : null,
  };
}

/** Upload-to-verdict latency of a job (see AuditDetail.verdictLatency): from the index's upload time, else the submission. */
export function verdictLatency(j: Pick<JobRow, 'state' | 'submitted_at' | 'finished_at' | 'uploaded_at'>): AuditDetail['verdictLatency'] {
  const from = j.uploaded_at ?? null;
  const since = from ?? j.submitted_at;
  const ms = j.state === 'done' && j.finished_at !== null ? Math.max(0, j.finished_at - since) : null;
  return { from: from === null ? 'submission' : 'upload', since: iso(since)!, ms };
}

/** A job row with its artifacts, prefetch summary and events as the user API's AuditDetail. */
export function toDetail(j: JobRow, attempts: AttemptRow[], artifacts: ArtifactRow[], prefetch: string | null, events: EventRow[], observation: AuditObservation | null = null): AuditDetail {
  let pf: AuditDetail['prefetch'] = null;
  if (prefetch) {
    try {
      pf = JSON.parse(prefetch) as AuditDetail['prefetch'];
    } catch {
      pf = null;
    }
  }
  return {
    ...toSummary(j, attempts),
    artifacts: artifacts.map((a) => ({ name: a.name, sizeBytes: a.size, sha256: a.sha256, url: artifactUrl(j.id, a.name) })),
    prefetch: pf,
    attemptLog: attempts.map((a) => ({
      attempt: a.attempt, slave: a.slave, state: a.state, reason: a.reason, leasedAt: iso(a.leased_at)!, endedAt: iso(a.ended_at),
    })),
    events: events.map((e) => ({ at: new Date(e.at).toISOString(), kind: e.kind, text: e.text })),
    observation,
    verdictLatency: verdictLatency(j),
  };
}
