/**
 * The command API between the master and its slaves: one typed method table, imported by both ends
 * (the master's handlers in master/src, the slave's client in slave/src/command).
 *
 * Transport: JSON-RPC 2.0 over HTTP, `POST {master}/rpc/v1`, one request (or notification) per body,
 * `Authorization: Bearer <slave token>`. A token names exactly one slave; every method acts as that
 * slave and can only touch that slave's leases. Bulky data does not travel inside JSON-RPC: raw data
 * and reports' artifacts are content-addressed blobs, `PUT {master}/rpc/v1/blobs/<sha256>` (the master
 * hashes the body and refuses a mismatch), and uploaded distributions are fetched with
 * `GET {master}/rpc/v1/blobs/<sha256>`, both with the same token.
 *
 * Errors: JSON-RPC errors whose `data.code` is a stable `PYTI_*` code from the one registry
 * (vm-agent/src/errors.ts), e.g. `PYTI_LEASE_LOST` for an expired, unknown or foreign lease.
 * A bad or missing token is refused with HTTP 401 and a JSON-RPC error `PYTI_AUTH`.
 *
 * Security: the master treats everything a slave sends as untrusted (shapes validated, sizes
 * capped); a slave treats the master's answers as shapes to validate too.
 */

export const COMMAND_PROTOCOL_VERSION = 1;
/** Path of the JSON-RPC endpoint on the master. */
export const COMMAND_RPC_PATH = '/rpc/v1';
/** Prefix of the blob endpoints: `${COMMAND_BLOB_PATH}/<sha256 hex>`. */
export const COMMAND_BLOB_PATH = '/rpc/v1/blobs';

/** What a slave can run: the master leases it only jobs it can do. */
export interface SlaveCapabilities {
  /** Backends this slave can run, e.g. `['bwrap', 'qemu']`. */
  backends: string[];
  /** The guest's Python version, `major.minor` (pip's `--python-version`). */
  python: string;
  /** The guest's platform tags for `pip download --platform`, most specific first (e.g. `manylinux_2_36_x86_64`, …, `linux_x86_64`). */
  platforms: string[];
  /** The guest's implementation and ABI for pip (`cp`, `cp311`). */
  implementation: string;
  abi: string;
  /** How many jobs this slave runs at once. */
  concurrency: number;
}

export interface RegisterParams {
  protocolVersion: number;
  /** Software version of the slave. */
  version: string;
  /** Host name or a name the operator chose; informational (the token names the slave). */
  host: string;
  capabilities: SlaveCapabilities;
}
export interface RegisterResult {
  /** The slave's name, as its token names it. */
  slave: string;
  /** How long a lease lasts without a heartbeat. */
  leaseMs: number;
  /** How often the slave should send a heartbeat (well under leaseMs). */
  heartbeatMs: number;
  /** Longest `waitMs` the master honours in `jobs.lease`. */
  maxWaitMs: number;
}

/** Where the distribution of a job comes from. */
export type AuditSource =
  /** From the package index: the slave resolves `project==version` with the index's JSON API, downloads `filename` and checks its sha256 against the index's metadata. `filename` absent: the slave picks the sdist, else a pure wheel. */
  | { kind: 'index'; project: string; version: string; filename?: string }
  /** Uploaded by a user: the slave fetches the blob from the master (COMMAND_BLOB_PATH) and checks the hash. */
  | { kind: 'upload'; filename: string; sha256: string; sizeBytes: number }
  /**
   * A commit of a git repository a subscription follows. The master made `archive` with `git archive
   * --format=tar.gz --prefix=source/` (the commit's tree, nothing of the repository runs on the
   * master); the slave fetches it like an upload (COMMAND_BLOB_PATH, hash checked), builds an sdist
   * from it offline in its sandbox, and audits that sdist. `project` is the name the master read from
   * the commit's pyproject.toml (or the repository's base name); `repo`, `branch` and `commit` (40 hex
   * digits) go into the report.
   */
  | { kind: 'git'; project: string; repo: string; branch: string; commit: string; archive: GitArchiveRef };

/** The `git archive` of a commit, kept by the master as a blob. */
export interface GitArchiveRef {
  sha256: string;
  sizeBytes: number;
}

/** The top-level directory of every member of a git job's archive (`git archive --prefix=source/`). */
export const GIT_ARCHIVE_PREFIX = 'source';

/** One leased job. */
export interface LeasedJob {
  jobId: string;
  /** Unguessable; names this attempt. Every later call about the job carries it. */
  leaseId: string;
  /** 1 for the first attempt. */
  attempt: number;
  source: AuditSource;
  /** Backend the job asks for (one of the slave's). */
  backend: string;
  /** Master's clock, ms since the epoch. */
  leaseExpiresAt: number;
}

export interface LeaseParams {
  /** At most this many jobs (the slave's free slots, ≥ 1). */
  max: number;
  /** Long-poll: wait up to this long for a job when none is queued (capped by maxWaitMs); 0 answers at once. */
  waitMs: number;
}
export interface LeaseResult {
  jobs: LeasedJob[];
}

/** A command the master sends back in a heartbeat's answer. */
export type SlaveCommand =
  /** Stop the job: kill its sandbox, report nothing more about it. The lease is already void. */
  | { kind: 'cancel'; jobId: string; leaseId: string }
  /** Finish running jobs, lease no new ones, then exit. */
  | { kind: 'drain' };

export interface HeartbeatParams {
  /** The leases the slave holds and is working on. */
  leases: string[];
  /** The slave is draining (it says so; the master may also have asked). */
  draining: boolean;
  /**
   * VM backends' pools of guests restored and waiting for the next jobs (part of the slave's
   * capacity, shown on the cluster page); absent when the slave keeps none. At most 16 entries.
   */
  pools?: GuestPoolReport[];
}

/** One backend's pool of waiting guests, as a slave reports it. */
export interface GuestPoolReport {
  /** The backend (`qemu`, `libvirt`). */
  backend: string;
  /** Guests the pool keeps waiting (0–64). */
  size: number;
  /** Guests waiting now (0–size). */
  ready: number;
}
export interface HeartbeatResult {
  /** Leases extended, with their new expiry. */
  extended: { leaseId: string; leaseExpiresAt: number }[];
  /** Leases the master no longer honours (expired, cancelled, completed): stop work on them. */
  lost: string[];
  commands: SlaveCommand[];
}

/** The phases of a job, in order (`building` only for git jobs). */
export const JOB_PHASES = ['downloading', 'building', 'prefetching', 'auditing', 'uploading'] as const;
export type JobPhase = typeof JOB_PHASES[number];

/** Progress of a leased job, shown live on the master's pages. */
export type JobProgressEvent =
  /** `building`: a git job's sdist is being built from the commit. */
  | { at: number; kind: 'phase'; phase: JobPhase }
  | { at: number; kind: 'task-started'; task: string }
  | { at: number; kind: 'task-finished'; task: string; status: string; durationMs?: number }
  /** A line of human-readable progress (capped at 2 KiB by the master). */
  | { at: number; kind: 'log'; text: string };

export interface ProgressParams {
  leaseId: string;
  /** In order; at most 100 per call. */
  events: JobProgressEvent[];
}
export interface ProgressResult {
  /** False: the lease is void (cancelled or expired); stop the job. */
  valid: boolean;
}

/** A raw-data file or other artifact of a report, uploaded as a blob before `jobs.complete`. */
export interface ArtifactRef {
  /** Path relative to the report, e.g. `raw/install/strace.log`; no `..`, no leading `/`. */
  name: string;
  sha256: string;
  sizeBytes: number;
}

/** What the slave learnt while fetching the dependencies (shown in the report, used by tests). */
export interface PrefetchSummary {
  /** Wheels put in the job's wheelhouse, by file name. */
  wheels: string[];
  /** How many of them had to be downloaded (the rest came from the slave's cache). */
  downloaded: number;
  /** pip's resolution failure, if any (the audit still runs; install then fails as `install-fail:deps`). */
  error?: string;
  durationMs: number;
  /**
   * The test requirements (declared ones plus pytest and coverage) as resolved with the runtime ones:
   * what resolved (with where each came from) and what could not, with pip's reason; handed to the
   * guest's test task as `pyti-test-requirements.json` (see prefetch/test-requirements.ts).
   */
  testRequirements?: {
    requirements: string[];
    unresolved: { requirement: string; reason: string }[];
    sources: string[];
    /** Pinned requirements the index has only at other versions: resolved by their bare name (`relaxedTo`, in `requirements`). */
    relaxed?: { requirement: string; relaxedTo: string }[];
  };
}

/** How a job ended, as the slave saw it. */
export type JobOutcome =
  /** The audit happened; the report (the slave's AuditReport JSON) says how the package did. */
  | { kind: 'report'; report: unknown; artifacts: ArtifactRef[]; prefetch?: PrefetchSummary }
  /**
   * The audit could not happen. `retry: true` for infrastructure trouble (the master requeues the job
   * until its attempts run out); `retry: false` for a verdict on the input (unknown project, hash
   * mismatch, malformed archive), which ends the job at once as `error` with this code.
   */
  | { kind: 'error'; code: string; message: string; retry: boolean };

export interface CompleteParams {
  leaseId: string;
  outcome: JobOutcome;
}
export interface CompleteResult {
  /** True when this call stored the result; false when an identical completion was already stored (idempotent replay). */
  stored: boolean;
}

/** Requests a slave sends to the master: method name → [params, result]. */
export interface CommandRequests {
  'slave.register': [RegisterParams, RegisterResult];
  'jobs.lease': [LeaseParams, LeaseResult];
  'slave.heartbeat': [HeartbeatParams, HeartbeatResult];
  'jobs.progress': [ProgressParams, ProgressResult];
  'jobs.complete': [CompleteParams, CompleteResult];
}
export type CommandMethod = keyof CommandRequests;
export type CommandParams<M extends CommandMethod> = CommandRequests[M][0];
export type CommandResult<M extends CommandMethod> = CommandRequests[M][1];

/** JSON-RPC error codes of the command API (application range); `data.code` carries the PYTI code. */
export const CommandErrorCodes = {
  unauthorized: -32001,
  leaseLost: -32010,
  notRegistered: -32011,
  tooLarge: -32012,
  protocolVersion: -32013,
} as const;

/** Caps the master enforces on what slaves send. */
export const COMMAND_LIMITS = {
  /** Largest JSON-RPC body. */
  maxRpcBodyBytes: 16 * 1024 * 1024,
  /** Largest blob. */
  maxBlobBytes: 256 * 1024 * 1024,
  maxProgressEvents: 100,
  maxLogText: 2048,
  maxArtifacts: 1000,
} as const;
