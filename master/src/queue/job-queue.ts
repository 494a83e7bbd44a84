/**
 * The durable job queue with leases, on the master's SQLite database.
 *
 * - A job waits `queued`; a slave leases it (higher priority first, then FIFO, only backends the
 *   slave has) and it is `running` under that attempt's lease until the lease expires, the slave
 *   completes it or a user cancels it.
 * - Heartbeats extend leases; an expiry sweep (a timer, and before every lease call) ends expired
 *   attempts and puts their jobs back, or ends them as PYTI_ATTEMPTS_EXHAUSTED with every attempt's
 *   reason when no attempt is left.
 * - Completion is idempotent: the first completion of an unfinished job is stored, even from an
 *   expired lease of that job (any other live lease on it is voided and its slave told to cancel);
 *   every later completion is acknowledged with `stored: false` and changes nothing.
 * - A slave can only touch its own leases (LeaseLostError, which does not tell foreign from unknown).
 *
 * Every state change is one transaction; statements are prepared once.
 *
 * On PostgreSQL several masters share the queue: a lease claims each job it takes with `FOR UPDATE
 * SKIP LOCKED` and `state = 'queued'` (two masters never lease one job; neither waits for the other), and every change of a job after it
 * was leased (completion, rejection, cancel, expiry) first locks the job's row (`FOR UPDATE`) and then
 * re-reads the attempt, so completion stays idempotent across masters. A submission or requeue on
 * any master wakes the long-polls of all of them: it NOTIFYs the `pyti_queue` channel, which every
 * master LISTENs on; long-polls also look again every CROSS_MASTER_POLL_MS in case a notification
 * was lost with a connection.
 */
import { guardedTick } from '../storage/guarded-tick.js';
import { randomBytes } from 'node:crypto';
import type {
  CompleteResult, HeartbeatResult, JobOutcome, JobProgressEvent, LeasedJob, ProgressResult, RegisterParams, SlaveCommand,
} from '@pyti/common';
import { COMMAND_LIMITS } from '@pyti/common';
import { dialectOf, type Db } from '../db/database.js';
import { QUEUE_CHANNEL, type PgStore } from '../db/pg-store.js';
import type { AuditDetail, AuditObservation, AuditState, AuditSummary, SlaveSummary } from '../user-api.js';
import { systemClock, type Clock } from './clock.js';
import { JobNotFoundError, LeaseLostError, NotRegisteredError } from './errors.js';
import { FINISHED_STATES, toDetail, toSummary, type ArtifactRow, type AttemptRow, type EventRow, type JobRow } from './job-rows.js';
import { Waiters } from './waiters.js';
import { INFRA_RETRY_PREFIX, infraRetryReason, isInfraResult } from './infra-retry.js';
import { REUSABLE_AUDIT_SQL, dedupeKeyOf } from './audit-identity.js';

export interface QueueOptions {
  leaseMs: number;
  maxWaitMs: number;
  maxAttempts: number;
  /** Infrastructure results (`error:*`) retried on another slave before one is stored (default 0: stored at once; see infra-retry.ts). */
  maxInfraRetries?: number;
  defaultBackend: string;
  clock?: Clock;
  /** How often the expiry sweep runs on its own (default: leaseMs / 10, within 100..5000 ms); 0: never. */
  sweepIntervalMs?: number;
  /** Called inside the transaction that stores a report (e.g. to queue an observation for the index). */
  onReportStored?: (job: JobRow, outcome: ReportOutcome) => void;
  /** The observation of a job's file, for its detail (see AuditDetail.observation). */
  observationOf?: (job: JobRow) => AuditObservation | null;
}

/**
 * What to audit. Uploads carry the project and version read from the archive's metadata; a git commit
 * carries the project read from its pyproject.toml (or the repository's name), its archive blob, and
 * its version is the commit id.
 */
export type SubmitSource =
  | { kind: 'index'; project: string; version: string; filename?: string }
  | { kind: 'upload'; project: string; version: string; filename: string; sha256: string; sizeBytes: number }
  | { kind: 'git'; project: string; repo: string; branch: string; commit: string; archive: { sha256: string; sizeBytes: number } };

export interface SubmitInput {
  source: SubmitSource;
  backend?: string;
  priority?: number;
  /** When the index says the file was uploaded (ms since the epoch): latency counts from it instead of the submission. */
  uploadedAt?: number | null;
}

/** What `submitOnce` did: a new audit, or one of the same file it reused (see audit-identity.ts). */
export interface SubmitOnceResult {
  audit: AuditSummary;
  reused: boolean;
}

/** A report outcome that the command API has validated (shape, size, artifacts present as blobs). */
export interface ReportOutcome {
  kind: 'report';
  /** The report JSON text as stored. */
  reportJson: string;
  /** The master's verdict and score (recomputed from the findings by validate.ts). */
  verdict: string;
  score: number;
  result: string;
  findings: number;
  artifacts: { name: string; sha256: string; sizeBytes: number }[];
  prefetch?: unknown;
}

export type CompletionOutcome = ReportOutcome | Extract<JobOutcome, { kind: 'error' }>;

/** Events kept per job (the rest are dropped, oldest first). */
export const MAX_EVENTS_PER_JOB = 200;

/** How the reason of an attempt whose report the master rejected starts (see reject). */
export const REJECTED_PREFIX = 'PYTI_REPORT_REJECTED';

/** On PostgreSQL, how often a waiting long-poll looks again without a notification (a safety net). */
export const CROSS_MASTER_POLL_MS = 5000;

const newId = (bytes: number) => randomBytes(bytes).toString('base64url');

export class JobQueue {
  readonly clock: Clock;
  private readonly waiters = new Waiters();
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly st;
  /** Several masters may share the database (PostgreSQL): row locks, and long-polls that look again. */
  private readonly shared: boolean;
  private readonly unlisten: () => void = () => undefined;

  constructor(private readonly db: Db, private readonly opts: QueueOptions) {
    this.clock = opts.clock ?? systemClock;
    this.shared = dialectOf(db) === 'postgres';
    if (this.shared) this.unlisten = (db as unknown as PgStore).onNotification(QUEUE_CHANNEL, () => this.waiters.wakeAll());
    const forUpdate = this.shared ? ' FOR UPDATE' : '';
    this.st = {
      lockJob: db.prepare(`SELECT * FROM jobs WHERE seq = ?${forUpdate}`),
      insertJob: db.prepare(`INSERT INTO jobs (id, source_kind, project, version, filename, upload_sha256, upload_size, git_repo, git_branch, git_commit,
        backend, priority, state, max_attempts, submitted_at, dedupe_key, uploaded_at)
        VALUES (@id, @source_kind, @project, @version, @filename, @upload_sha256, @upload_size, @git_repo, @git_branch, @git_commit,
        @backend, @priority, 'queued', @max_attempts, @submitted_at, @dedupe_key, @uploaded_at)`),
      // A finished audit first, else the newest queued or running one.
      reusable: db.prepare(`SELECT * FROM jobs WHERE dedupe_key = ? AND ${REUSABLE_AUDIT_SQL}
        ORDER BY CASE WHEN state = 'done' THEN 0 ELSE 1 END, seq DESC LIMIT 1`),
      // An index file's finished audit whose distribution (the dist/ copy the slave sent) has these bytes.
      auditedIndexFile: db.prepare(`SELECT j.* FROM artifacts a JOIN jobs j ON j.seq = a.job_seq
        WHERE a.sha256 = @sha256 AND a.name = @name AND j.source_kind = 'index' AND j.backend = @backend
          AND j.state = 'done' AND (j.result IS NULL OR j.result NOT LIKE 'error:%')
        ORDER BY j.seq DESC LIMIT 1`),
      // The audits of one release's files on one backend (a key range of jobs_dedupe: `index:<project>:<version>:`).
      releaseAudits: db.prepare(`SELECT * FROM jobs WHERE dedupe_key >= ? AND dedupe_key < ? AND ${REUSABLE_AUDIT_SQL}
        ORDER BY CASE WHEN state = 'done' THEN 0 ELSE 1 END, seq DESC LIMIT 50`),
      raisePriority: db.prepare(`UPDATE jobs SET priority = @priority WHERE seq = @seq AND state = 'queued' AND priority < @priority`),
      jobById: db.prepare('SELECT * FROM jobs WHERE id = ?'),
      jobBySeq: db.prepare('SELECT * FROM jobs WHERE seq = ?'),
      queuedFor: db.prepare(`SELECT * FROM jobs WHERE state = 'queued' AND backend IN (SELECT value FROM json_each(?))
        ORDER BY priority DESC, seq LIMIT ?`),
      // PostgreSQL: a candidate is taken only if no other master holds it now and it is still queued.
      claimJob: db.prepare(`SELECT * FROM jobs WHERE seq = ? AND state = 'queued'${this.shared ? ' FOR UPDATE SKIP LOCKED' : ''}`),
      startJob: db.prepare(`UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, @now), slave = @slave,
        current_lease = @lease, progress_phase = NULL, progress_task = NULL, progress_tasks_done = 0, progress_log = NULL WHERE seq = @seq`),
      requeueJob: db.prepare(`UPDATE jobs SET state = 'queued', current_lease = NULL WHERE seq = ?`),
      failJob: db.prepare(`UPDATE jobs SET state = 'error', verdict = 'error', current_lease = NULL, finished_at = @now, error_code = @code, error_message = @message WHERE seq = @seq`),
      finishJob: db.prepare(`UPDATE jobs SET state = 'done', verdict = @verdict, score = @score, result = @result, findings = @findings, current_lease = NULL,
        finished_at = @now, slave = @slave WHERE seq = @seq`),
      cancelJob: db.prepare(`UPDATE jobs SET state = 'cancelled', cancel_requested = 1, current_lease = NULL, finished_at = @now WHERE seq = @seq`),
      insertAttempt: db.prepare(`INSERT INTO attempts (id, job_seq, slave, attempt, leased_at, lease_expires_at, state)
        VALUES (@id, @job_seq, @slave, @attempt, @now, @expires, 'active')`),
      attempt: db.prepare('SELECT * FROM attempts WHERE id = ?'),
      attemptsOf: db.prepare('SELECT * FROM attempts WHERE job_seq = ? ORDER BY attempt, leased_at'),
      activeAttemptsOf: db.prepare(`SELECT * FROM attempts WHERE job_seq = ? AND state = 'active'`),
      expiredAttempts: db.prepare(`SELECT * FROM attempts WHERE state = 'active' AND lease_expires_at <= ?`),
      endAttempt: db.prepare('UPDATE attempts SET state = @state, reason = @reason, ended_at = @now WHERE id = @id'),
      extendAttempt: db.prepare(`UPDATE attempts SET lease_expires_at = ? WHERE id = ? AND state = 'active'`),
      upsertSlave: db.prepare(`INSERT INTO slaves (name, host, version, capabilities, registered_at, last_seen, draining, drain_requested)
        VALUES (@name, @host, @version, @capabilities, @now, @now, 0, 0)
        ON CONFLICT (name) DO UPDATE SET host = @host, version = @version, capabilities = @capabilities, registered_at = @now, last_seen = @now,
        draining = 0, drain_requested = 0`),
      slave: db.prepare('SELECT * FROM slaves WHERE name = ?'),
      slaves: db.prepare(`SELECT s.*, (SELECT COUNT(*) FROM attempts a WHERE a.slave = s.name AND a.state = 'active') AS active FROM slaves s ORDER BY name`),
      touchSlave: db.prepare('UPDATE slaves SET last_seen = ? WHERE name = ?'),
      slaveDraining: db.prepare('UPDATE slaves SET draining = ?, last_seen = ? WHERE name = ?'),
      requestDrain: db.prepare(`INSERT INTO slaves (name, drain_requested) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET drain_requested = 1`),
      pushCommand: db.prepare('INSERT INTO slave_commands (slave, command) VALUES (?, ?)'),
      commandsOf: db.prepare('SELECT id, command FROM slave_commands WHERE slave = ? ORDER BY id'),
      dropCommands: db.prepare('DELETE FROM slave_commands WHERE slave = ? AND id <= ?'),
      insertReport: db.prepare('INSERT INTO reports (job_seq, report, prefetch, stored_at) VALUES (?, ?, ?, ?)'),
      report: db.prepare('SELECT report, prefetch FROM reports WHERE job_seq = ?'),
      insertArtifact: db.prepare('INSERT OR REPLACE INTO artifacts (job_seq, name, sha256, size) VALUES (?, ?, ?, ?)'),
      artifactsOf: db.prepare('SELECT name, sha256, size FROM artifacts WHERE job_seq = ? ORDER BY name'),
      artifact: db.prepare('SELECT name, sha256, size FROM artifacts WHERE job_seq = ? AND name = ?'),
      insertEvent: db.prepare('INSERT INTO progress_events (job_seq, at, kind, text) VALUES (?, ?, ?, ?)'),
      trimEvents: db.prepare(`DELETE FROM progress_events WHERE job_seq = @seq AND id <= (
        SELECT id FROM progress_events WHERE job_seq = @seq ORDER BY id DESC LIMIT 1 OFFSET ${MAX_EVENTS_PER_JOB})`),
      eventsOf: db.prepare(`SELECT at, kind, text FROM (SELECT id, at, kind, text FROM progress_events WHERE job_seq = ? ORDER BY id DESC LIMIT ${MAX_EVENTS_PER_JOB}) ORDER BY id`),
      setProgress: db.prepare(`UPDATE jobs SET progress_phase = COALESCE(@phase, progress_phase), progress_task = COALESCE(@task, progress_task),
        progress_tasks_done = progress_tasks_done + @done, progress_log = COALESCE(@log, progress_log) WHERE seq = @seq`),
      uploadLeasedBy: db.prepare(`SELECT 1 FROM jobs j JOIN attempts a ON a.job_seq = j.seq WHERE j.upload_sha256 = ? AND a.slave = ? LIMIT 1`),
      list: db.prepare(`SELECT * FROM jobs WHERE (@state IS NULL OR state = @state) AND (@after IS NULL OR seq < @after)
        AND (@commit IS NULL OR (git_commit >= @commit AND git_commit < @commit || 'g')) ORDER BY seq DESC LIMIT @limit`),
      counts: db.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state'),
      // Attempts whose slave should leave the job to others: a rejected report, an infrastructure result.
      rejectedBy: db.prepare(`SELECT 1 FROM attempts WHERE job_seq = ? AND slave = ? AND (reason LIKE '${REJECTED_PREFIX}%' OR reason LIKE '${INFRA_RETRY_PREFIX}%') LIMIT 1`),
      infraRetriesOf: db.prepare(`SELECT COUNT(*) AS n FROM attempts WHERE job_seq = ? AND reason LIKE '${INFRA_RETRY_PREFIX}%'`),
      // Another live slave (registered, not draining, seen within two leases, with the job's backend) that has not rejected the job.
      otherSlaveFor: db.prepare(`SELECT 1 FROM slaves s WHERE s.name != @slave AND s.capabilities IS NOT NULL AND s.draining = 0 AND s.drain_requested = 0
        AND s.last_seen >= @since AND EXISTS (SELECT 1 FROM json_each(s.capabilities, '$.backends') b WHERE b.value = @backend)
        AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.job_seq = @seq AND a.slave = s.name
          AND (a.reason LIKE '${REJECTED_PREFIX}%' OR a.reason LIKE '${INFRA_RETRY_PREFIX}%')) LIMIT 1`),
    };
  }

  /** Starts the periodic expiry sweep (unref'd timer). */
  start(): void {
    const every = this.opts.sweepIntervalMs ?? Math.min(5000, Math.max(100, Math.floor(this.opts.leaseMs / 10)));
    if (every > 0 && !this.sweepTimer) {
      // A failed sweep (a full disk) is logged and tried again at the next tick; it never ends the process.
      this.sweepTimer = setInterval(guardedTick('queue sweep', () => this.sweep()), every);
      this.sweepTimer.unref();
    }
  }

  /** Stops the sweep and answers every waiting long-poll (with no jobs). The database stays open. */
  close(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.unlisten();
    this.waiters.close();
  }

  /** Number of long-polls waiting now. */
  get waiting(): number {
    return this.waiters.size;
  }

  // ---- users ---------------------------------------------------------------------------------

  /**
   * Queues an audit of `input`, unless (without `force`) an audit of the same file on the same backend
   * is queued, running or done (audit-identity.ts): then that audit is returned (`reused`), its
   * priority raised to the new one's while it is queued. An upload is also the same file as an index
   * file whose finished audit inspected the same bytes under the same name (its `dist/` artifact).
   */
  submitOnce(input: SubmitInput, opts: { force?: boolean } = {}): SubmitOnceResult {
    const backend = input.backend ?? this.opts.defaultBackend;
    const key = dedupeKeyOf(input.source, backend);
    const s = input.source;
    return this.db.transaction((): SubmitOnceResult => {
      let old = key === null || opts.force ? undefined : this.st.reusable.get(key) as JobRow | undefined;
      // An upload of the very bytes an index file's audit inspected (same name, same sha256) is that file.
      if (!old && !opts.force && s.kind === 'upload') {
        old = this.st.auditedIndexFile.get({ sha256: s.sha256, name: `dist/${s.filename}`, backend }) as JobRow | undefined;
      }
      // By name with no file named, the slave audits the release's sdist (pickFile; PyPI allows one per
      // release): an audit of that release's .tar.gz on this backend (a subscription's) is that audit.
      if (!old && !opts.force && key !== null && s.kind === 'index' && s.filename === undefined) {
        const prefix = key.slice(0, key.length - `*:${backend}`.length);
        old = (this.st.releaseAudits.all(prefix, `${prefix}\uffff`) as JobRow[])
          .find((j) => j.dedupe_key === `${prefix}${j.filename}:${backend}` && /\.tar\.gz$/.test(j.filename ?? ''));
      }
      if (!old) return { audit: this.submit(input), reused: false };
      if (input.priority !== undefined) this.st.raisePriority.run({ seq: old.seq, priority: input.priority });
      return { audit: this.summary(old.id)!, reused: true };
    })();
  }

  /** Queues an audit (always a new one: see submitOnce). */
  submit(input: SubmitInput): AuditSummary {
    const s = input.source;
    const id = `a${newId(9)}`;
    const backend = input.backend ?? this.opts.defaultBackend;
    this.st.insertJob.run({
      id,
      source_kind: s.kind,
      project: s.project,
      version: s.kind === 'git' ? s.commit : s.version,
      filename: s.kind === 'git' ? null : s.filename ?? null,
      upload_sha256: s.kind === 'upload' ? s.sha256 : s.kind === 'git' ? s.archive.sha256 : null,
      upload_size: s.kind === 'upload' ? s.sizeBytes : s.kind === 'git' ? s.archive.sizeBytes : null,
      git_repo: s.kind === 'git' ? s.repo : null,
      git_branch: s.kind === 'git' ? s.branch : null,
      git_commit: s.kind === 'git' ? s.commit : null,
      backend,
      priority: input.priority ?? 0,
      max_attempts: this.opts.maxAttempts,
      submitted_at: this.clock.now(),
      dedupe_key: dedupeKeyOf(s, backend),
      uploaded_at: input.uploadedAt ?? null,
    });
    this.wake();
    return this.summary(id)!;
  }

  /** One audit, or null. */
  summary(id: string): AuditSummary | null {
    const j = this.st.jobById.get(id) as JobRow | undefined;
    return j ? this.toSummary(j) : null;
  }

  /** One audit with artifacts, prefetch and events, or null. */
  detail(id: string): AuditDetail | null {
    const j = this.st.jobById.get(id) as JobRow | undefined;
    if (!j) return null;
    const rep = this.st.report.get(j.seq) as { prefetch: string | null } | undefined;
    return toDetail(j, this.st.attemptsOf.all(j.seq) as AttemptRow[], this.st.artifactsOf.all(j.seq) as ArtifactRow[],
      rep?.prefetch ?? null, this.st.eventsOf.all(j.seq) as EventRow[], this.opts.observationOf?.(j) ?? null);
  }

  /**
   * Audits, newest first; `after` is the id of the last audit of the previous page; `commit` (lower-case
   * hex, checked by the caller) keeps only audits of git commits whose id starts with it.
   */
  list(opts: { state?: AuditState; limit?: number; after?: string; commit?: string } = {}): AuditSummary[] {
    let after: number | null = null;
    if (opts.after !== undefined) {
      const j = this.st.jobById.get(opts.after) as JobRow | undefined;
      if (!j) throw new JobNotFoundError(opts.after);
      after = j.seq;
    }
    const rows = this.st.list.all({ state: opts.state ?? null, after, limit: opts.limit ?? 50, commit: opts.commit ?? null }) as JobRow[];
    return rows.map((j) => this.toSummary(j));
  }

  /** Jobs per state. */
  counts(): Record<AuditState, number> {
    const out: Record<AuditState, number> = { queued: 0, running: 0, done: 0, error: 0, cancelled: 0 };
    for (const r of this.st.counts.all() as { state: AuditState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  /** The stored report JSON text of a done audit, or null. Throws JobNotFoundError. */
  reportJson(id: string): string | null {
    const j = this.job(id);
    const rep = this.st.report.get(j.seq) as { report: string } | undefined;
    return rep?.report ?? null;
  }

  /** One artifact of an audit, or null. Throws JobNotFoundError. */
  artifact(id: string, name: string): ArtifactRow | null {
    const j = this.job(id);
    return (this.st.artifact.get(j.seq, name) as ArtifactRow | undefined) ?? null;
  }

  /** Cancels a queued or running audit (a finished one is left as it is). Throws JobNotFoundError. */
  cancel(id: string): AuditSummary {
    const j = this.job(id);
    this.db.transaction(() => {
      const cur = this.st.lockJob.get(j.seq) as JobRow;
      if (FINISHED_STATES.has(cur.state)) return;
      const now = this.clock.now();
      this.voidActive(cur.seq, 'cancelled by a user', null);
      this.st.cancelJob.run({ seq: cur.seq, now });
    })();
    return this.summary(id)!;
  }

  // ---- slaves --------------------------------------------------------------------------------

  /** Records a slave's registration (clears any drain request: a restarted slave works again). */
  register(slave: string, p: RegisterParams): void {
    this.st.upsertSlave.run({ name: slave, host: p.host, version: p.version, capabilities: JSON.stringify(p.capabilities), now: this.clock.now() });
  }

  /** Asks a slave to drain (its next heartbeat carries `drain`). */
  drain(slave: string): SlaveSummary {
    this.st.requestDrain.run(slave);
    this.wake();
    return this.slaves().find((s) => s.name === slave)!;
  }

  /** Every slave the master knows. */
  slaves(): SlaveSummary[] {
    type Row = { name: string; host: string | null; version: string | null; capabilities: string | null; last_seen: number | null; draining: number; drain_requested: number; active: number };
    return (this.st.slaves.all() as Row[]).map((r) => ({
      name: r.name,
      host: r.host,
      version: r.version,
      capabilities: r.capabilities ? JSON.parse(r.capabilities) as unknown : null,
      lastSeen: r.last_seen === null ? null : new Date(r.last_seen).toISOString(),
      draining: r.draining === 1,
      drainRequested: r.drain_requested === 1,
      activeLeases: r.active,
    }));
  }

  /**
   * Leases up to `max` jobs for `slave`; when none is queued, waits up to `waitMs` (capped by
   * maxWaitMs) for a submit or requeue. A draining slave gets nothing.
   */
  async lease(slave: string, max: number, waitMs: number): Promise<LeasedJob[]> {
    const deadline = Date.now() + Math.min(Math.max(0, waitMs), this.opts.maxWaitMs);
    for (;;) {
      const jobs = this.leaseNow(slave, max);
      if (jobs.length > 0 || this.waiters.isClosed || this.isDraining(slave)) return jobs;
      const left = deadline - Date.now();
      if (left <= 0) return jobs;
      await this.waiters.wait(this.shared ? Math.min(left, CROSS_MASTER_POLL_MS) : left);
    }
  }

  /** Leases what is queued now, without waiting. */
  leaseNow(slave: string, max: number): LeasedJob[] {
    this.sweep();
    return this.db.transaction(() => {
      const s = this.st.slave.get(slave) as { capabilities: string | null; draining: number; drain_requested: number } | undefined;
      if (!s || s.capabilities === null) throw new NotRegisteredError(slave);
      const now = this.clock.now();
      this.st.touchSlave.run(now, slave);
      if (s.draining || s.drain_requested) return [];
      const backends = (JSON.parse(s.capabilities) as { backends?: unknown }).backends;
      // A job whose report this slave had rejected, or that ended on its infrastructure, goes to another slave while one is there to take it.
      const rows: JobRow[] = [];
      for (const c of this.st.queuedFor.all(JSON.stringify(Array.isArray(backends) ? backends : []), max * 2 + 50) as JobRow[]) {
        if (rows.length >= max) break;
        if (this.st.rejectedBy.get(c.seq, slave) && this.st.otherSlaveFor.get({ slave, seq: c.seq, backend: c.backend, since: now - 2 * this.opts.leaseMs })) continue;
        const j = this.st.claimJob.get(c.seq) as JobRow | undefined;
        if (j) rows.push(j);
      }
      return rows.map((j): LeasedJob => {
        const leaseId = newId(24);
        const expires = now + this.opts.leaseMs;
        this.st.insertAttempt.run({ id: leaseId, job_seq: j.seq, slave, attempt: j.attempts + 1, now, expires });
        this.st.startJob.run({ seq: j.seq, now, slave, lease: leaseId });
        return { jobId: j.id, leaseId, attempt: j.attempts + 1, source: sourceOf(j), backend: j.backend, leaseExpiresAt: expires };
      });
    })();
  }

  /** Extends the slave's live leases; the others are `lost`. Delivers pending commands. */
  heartbeat(slave: string, leases: string[], draining: boolean): HeartbeatResult {
    this.sweep();
    let startsDraining = false;
    const result = this.db.transaction(() => {
      const s = this.st.slave.get(slave) as { drain_requested: number; draining: number } | undefined;
      if (!s) throw new NotRegisteredError(slave);
      startsDraining = draining && s.draining !== 1;
      const now = this.clock.now();
      this.st.slaveDraining.run(draining ? 1 : 0, now, slave);
      const extended: HeartbeatResult['extended'] = [];
      const lost: string[] = [];
      for (const leaseId of new Set(leases)) {
        const a = this.st.attempt.get(leaseId) as AttemptRow | undefined;
        if (a && a.slave === slave && a.state === 'active') {
          const leaseExpiresAt = now + this.opts.leaseMs;
          if (this.st.extendAttempt.run(leaseExpiresAt, leaseId).changes === 1) extended.push({ leaseId, leaseExpiresAt });
          else lost.push(leaseId);
        } else {
          lost.push(leaseId);
        }
      }
      const pending = this.st.commandsOf.all(slave) as { id: number; command: string }[];
      if (pending.length) this.st.dropCommands.run(slave, pending[pending.length - 1]!.id);
      const commands: SlaveCommand[] = pending.map((c) => JSON.parse(c.command) as SlaveCommand);
      if (s.drain_requested) commands.push({ kind: 'drain' });
      return { extended, lost, commands };
    })();
    // A slave that starts draining gets its pending long-poll answered now (with nothing), not left to run out or be aborted.
    if (startsDraining) this.waiters.wakeAll();
    return result;
  }

  /** Records progress events of a live lease; `valid: false` when the slave's lease is void. */
  progress(slave: string, leaseId: string, events: JobProgressEvent[]): ProgressResult {
    this.sweep();
    return this.db.transaction(() => {
      const a = this.ownAttempt(slave, leaseId);
      if (a.state !== 'active') return { valid: false };
      let phase: string | null = null;
      let task: string | null = null;
      let log: string | null = null;
      let done = 0;
      for (const e of events) {
        let text: string;
        switch (e.kind) {
          case 'phase': text = phase = e.phase; break;
          case 'task-started': text = task = e.task; break;
          case 'task-finished': text = `${e.task}: ${e.status}${e.durationMs !== undefined ? ` in ${e.durationMs} ms` : ''}`; done++; break;
          case 'log': text = log = e.text.slice(0, COMMAND_LIMITS.maxLogText); break;
        }
        this.st.insertEvent.run(a.job_seq, e.at, e.kind, text);
      }
      this.st.setProgress.run({ seq: a.job_seq, phase, task, log, done });
      this.st.trimEvents.run({ seq: a.job_seq });
      this.st.touchSlave.run(this.clock.now(), slave);
      return { valid: true };
    })();
  }

  /**
   * Completes the job of `leaseId` (see the module comment for idempotency). An infrastructure error
   * with `retry` requeues the job (or ends it as PYTI_ATTEMPTS_EXHAUSTED); it is ignored (`stored:
   * false`) when it comes from an attempt the job has already moved past.
   */
  complete(slave: string, leaseId: string, outcome: CompletionOutcome): CompleteResult {
    this.sweep();
    let requeued = false;
    const result = this.db.transaction((): CompleteResult => {
      const j = this.st.lockJob.get(this.ownAttempt(slave, leaseId).job_seq) as JobRow;
      const a = this.ownAttempt(slave, leaseId);
      if (FINISHED_STATES.has(j.state) || a.state === 'completed' || a.state === 'retried') return { stored: false };
      const now = this.clock.now();
      this.st.touchSlave.run(now, slave);
      if (outcome.kind === 'error' && outcome.retry) {
        if (j.state !== 'running' || j.current_lease !== leaseId) return { stored: false };
        this.st.endAttempt.run({ id: leaseId, state: 'retried', reason: `${outcome.code}: ${outcome.message}`, now });
        requeued = this.requeueOrExhaust(j.seq, now);
        return { stored: true };
      }
      if (outcome.kind === 'report' && a.state === 'active' && j.state === 'running' && j.current_lease === leaseId) {
        const retry = infraRetryReason({
          result: outcome.result, slave, retriesSoFar: (this.st.infraRetriesOf.get(j.seq) as { n: number }).n,
          maxInfraRetries: this.opts.maxInfraRetries ?? 0, attempts: j.attempts, maxAttempts: j.max_attempts,
        });
        if (retry) {
          this.st.endAttempt.run({ id: leaseId, state: 'retried', reason: retry, now });
          this.st.insertEvent.run(j.seq, now, 'log', `attempt ${a.attempt}: ${retry}`.slice(0, COMMAND_LIMITS.maxLogText));
          this.st.trimEvents.run({ seq: j.seq });
          this.st.requeueJob.run(j.seq);
          requeued = true;
          return { stored: true };
        }
      }
      // A late infrastructure result is not the audit's: the job already went back to the queue for another try.
      if (outcome.kind === 'report' && a.state === 'expired' && isInfraResult(outcome.result) && (this.opts.maxInfraRetries ?? 0) > 0) return { stored: false };
      const late = a.state === 'expired' ? ' (after its lease expired)' : '';
      const reason = outcome.kind === 'report' ? `completed${late}: ${outcome.result}` : `${outcome.code}: ${outcome.message}${late}`;
      this.st.endAttempt.run({ id: leaseId, state: 'completed', reason, now });
      this.voidActive(j.seq, `superseded: attempt ${a.attempt} on ${slave} completed the job`, leaseId);
      if (outcome.kind === 'report') {
        this.st.insertReport.run(j.seq, outcome.reportJson, outcome.prefetch === undefined ? null : JSON.stringify(outcome.prefetch), now);
        for (const art of outcome.artifacts) this.st.insertArtifact.run(j.seq, art.name, art.sha256, art.sizeBytes);
        this.st.finishJob.run({ seq: j.seq, verdict: outcome.verdict, score: outcome.score, result: outcome.result, findings: outcome.findings, now, slave });
        this.opts.onReportStored?.(j, outcome);
      } else {
        this.st.failJob.run({ seq: j.seq, code: outcome.code, message: outcome.message, now });
      }
      return { stored: true };
    })();
    if (requeued) this.wake();
    return result;
  }

  /**
   * Rejects the report of `leaseId` (the master would not store it: `reason` starts with the
   * PYTI_REPORT_REJECTED code and carries the evidence): ends the attempt with the reason, logs it
   * on the job, and puts the job back for another slave, or ends it as PYTI_ATTEMPTS_EXHAUSTED
   * (with every attempt's reason) when no attempt is left. Nothing changes for a job that is
   * finished or has moved past this attempt. Throws LeaseLostError for a lease not the slave's.
   */
  reject(slave: string, leaseId: string, reason: string): { requeued: boolean } {
    this.sweep();
    let requeued = false;
    this.db.transaction(() => {
      const j = this.st.lockJob.get(this.ownAttempt(slave, leaseId).job_seq) as JobRow;
      const a = this.ownAttempt(slave, leaseId);
      if (FINISHED_STATES.has(j.state) || (a.state !== 'active' && a.state !== 'expired')) return;
      const now = this.clock.now();
      const why = reason.startsWith(REJECTED_PREFIX) ? reason : `${REJECTED_PREFIX}: ${reason}`;
      this.st.touchSlave.run(now, slave);
      this.st.insertEvent.run(j.seq, now, 'log', `attempt ${a.attempt} on ${slave}: report rejected: ${why}`.slice(0, COMMAND_LIMITS.maxLogText));
      this.st.trimEvents.run({ seq: j.seq });
      if (a.state === 'active') this.st.endAttempt.run({ id: leaseId, state: 'retried', reason: why, now });
      if (j.state === 'running' && j.current_lease === leaseId) requeued = this.requeueOrExhaust(j.seq, now);
    })();
    if (requeued) this.wake();
    return { requeued };
  }

  /** Whether `slave` may download the blob `sha256`: an uploaded distribution or a git archive of a job it leased. */
  mayFetchUpload(slave: string, sha256: string): boolean {
    return this.st.uploadLeasedBy.get(sha256, slave) !== undefined;
  }

  /**
   * Ends every active attempt whose lease has expired and puts its job back (or ends it when no
   * attempt is left). Returns how many attempts expired.
   */
  sweep(): number {
    const now = this.clock.now();
    const expired = this.st.expiredAttempts.all(now) as AttemptRow[];
    if (expired.length === 0) return 0;
    let requeued = false;
    this.db.transaction(() => {
      for (const stale of expired) {
        this.st.lockJob.get(stale.job_seq);
        const a = this.st.attempt.get(stale.id) as AttemptRow;
        if (a.state !== 'active' || a.lease_expires_at > now) continue;
        this.st.endAttempt.run({ id: a.id, state: 'expired', reason: `lease expired: slave ${a.slave} stopped answering`, now });
        const j = this.st.jobBySeq.get(a.job_seq) as JobRow;
        if (j.state === 'running' && j.current_lease === a.id) requeued = this.requeueOrExhaust(j.seq, now) || requeued;
      }
    })();
    if (requeued) this.wake();
    return expired.length;
  }

  // ---- internals -----------------------------------------------------------------------------

  /** Wakes this master's long-polls, and (PostgreSQL) every other master's through NOTIFY. */
  private wake(): void {
    this.waiters.wakeAll();
    if (this.shared) (this.db as unknown as PgStore).notify(QUEUE_CHANNEL);
  }

  private job(id: string): JobRow {
    const j = this.st.jobById.get(id) as JobRow | undefined;
    if (!j) throw new JobNotFoundError(id);
    return j;
  }

  private toSummary(j: JobRow): AuditSummary {
    return toSummary(j, j.state === 'error' ? this.st.attemptsOf.all(j.seq) as AttemptRow[] : []);
  }

  private isDraining(slave: string): boolean {
    const s = this.st.slave.get(slave) as { draining: number; drain_requested: number } | undefined;
    return !!s && (s.draining === 1 || s.drain_requested === 1);
  }

  /** The slave's own attempt, whatever its state; LeaseLostError for unknown and foreign leases alike. */
  private ownAttempt(slave: string, leaseId: string): AttemptRow {
    const a = this.st.attempt.get(leaseId) as AttemptRow | undefined;
    if (!a || a.slave !== slave) throw new LeaseLostError(leaseId);
    return a;
  }

  /** Voids the job's active attempts except `keep`, and tells their slaves to cancel. */
  private voidActive(seq: number, reason: string, keep: string | null): void {
    const now = this.clock.now();
    const j = this.st.jobBySeq.get(seq) as JobRow;
    for (const other of this.st.activeAttemptsOf.all(seq) as AttemptRow[]) {
      if (other.id === keep) continue;
      this.st.endAttempt.run({ id: other.id, state: 'voided', reason, now });
      this.st.pushCommand.run(other.slave, JSON.stringify({ kind: 'cancel', jobId: j.id, leaseId: other.id } satisfies SlaveCommand));
    }
  }

  /** After a failed attempt: back to the queue, or `error` when attempts ran out. True when requeued. */
  private requeueOrExhaust(seq: number, now: number): boolean {
    const j = this.st.jobBySeq.get(seq) as JobRow;
    if (j.attempts < j.max_attempts) {
      this.st.requeueJob.run(seq);
      return true;
    }
    const attempts = this.st.attemptsOf.all(seq) as AttemptRow[];
    const reasons = attempts.map((a) => `attempt ${a.attempt}: ${a.reason ?? a.state}`).join('; ');
    this.st.failJob.run({ seq, now, code: 'PYTI_ATTEMPTS_EXHAUSTED', message: `failed on infrastructure in all ${j.attempts} attempts: ${reasons}` });
    return false;
  }
}

function sourceOf(j: JobRow): LeasedJob['source'] {
  if (j.source_kind === 'upload') return { kind: 'upload', filename: j.filename!, sha256: j.upload_sha256!, sizeBytes: j.upload_size! };
  if (j.source_kind === 'git') {
    return {
      kind: 'git', project: j.project, repo: j.git_repo!, branch: j.git_branch!, commit: j.git_commit!,
      archive: { sha256: j.upload_sha256!, sizeBytes: j.upload_size! },
    };
  }
  return j.filename ? { kind: 'index', project: j.project, version: j.version, filename: j.filename } : { kind: 'index', project: j.project, version: j.version };
}
