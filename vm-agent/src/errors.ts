/**
 * The one registry of PyTI's error codes. Every error PyTI raises carries one of these codes and,
 * where there is one, its cause. A test keeps the registry complete: every `PYTI_*` code used in
 * the sources must be listed here, and every listed code must be used.
 *
 * Infrastructure failures during a job (a guest breaking the protocol, a sandbox dying, a job timing
 * out) are not thrown: they are the report's result (`error:sandbox-protocol`, …), see agent-session.ts.
 */
export const ERROR_CODES = {
  PYTI_PLAN_INVALID: 'the task plan is invalid (cycle, unknown dependency, data nobody produces, bad limits)',
  PYTI_PROVIDED_DATA_INVALID: 'the data a host sandbox stage produced for the guest (inspect\'s source and meta) is missing, not a directory, or past the copy\'s bounds',
  PYTI_IMAGE_MISSING: 'the guest image for this recipe has not been built',
  PYTI_IMAGE_BUILD_FAILED: 'building the guest image failed',
  PYTI_IMAGE_NOT_ROOT: 'building the guest image needs root',
  PYTI_INPUT_NOT_FOUND: 'the distribution file does not exist or is not a regular file',
  PYTI_INPUT_NOT_ARCHIVE: 'the input is not a wheel or a .tar.gz sdist',
  PYTI_INPUT_MALFORMED: 'the archive is corrupt or truncated',
  PYTI_INPUT_UNSAFE_PATH: 'an archive member has an absolute path or climbs out with ..',
  PYTI_INPUT_UNSAFE_LINK: 'an archive member is a link pointing outside the archive, or a device',
  PYTI_INPUT_TOO_LARGE: 'the archive expands beyond the size, count or ratio limits (zip bomb)',
  PYTI_INPUT_NO_METADATA: 'the distribution has no PKG-INFO/METADATA, or it lacks Name or Version',
  PYTI_INPUT_AMBIGUOUS: 'the archive can be read two ways (host and guest would see different members or metadata): two PKG-INFO/METADATA files or .dist-info directories, zip central and local names differ, conflicting or global PAX name/size overrides, non-file members declaring data, links chaining above the root',
  PYTI_INPUT_SPARSE: 'the archive has a sparse member (old GNU or PAX GNU.sparse), whose stored and real sizes differ',
  PYTI_INPUT_BAD_NAME: 'an archive member name or link target is not valid UTF-8 (or a zip name flagged UTF-8 is not)',
  PYTI_INPUT_BAD_VERSION: 'the distribution\'s version (file name or metadata) is not a valid PEP 440 version',
  PYTI_WHEELHOUSE_INVALID: 'the wheelhouse is not a readable directory',
  PYTI_INSTALL_PLAN_INVALID: 'the install plan (the wheels the guest installs, as the host resolved them) is malformed',
  PYTI_BACKEND_UNAVAILABLE: 'the sandbox backend cannot run on this host',
  PYTI_SANDBOX_UIDS_BUSY: 'every task uid range of the host-wide pool is held by a running sandbox (too many concurrent process sandboxes on this host)',
  PYTI_USAGE: 'the command line is wrong',
  PYTI_CONFIG_INVALID: 'the master or slave configuration (flags, environment, config file) is invalid',
  PYTI_AUTH: 'the token is missing or wrong, or does not allow this call',
  PYTI_RPC_INVALID: 'a JSON-RPC message is malformed, or its method or params are not the command API\'s',
  PYTI_LEASE_LOST: 'the lease is expired, cancelled, completed, unknown, or belongs to another slave',
  PYTI_JOB_NOT_FOUND: 'no audit or job with this id',
  PYTI_ATTEMPTS_EXHAUSTED: 'the job failed on infrastructure in every attempt it was allowed',
  PYTI_BLOB_MISMATCH: 'an uploaded blob does not hash to the name it was sent under, or is too large',
  PYTI_DB_UNAVAILABLE: 'the PostgreSQL database given with --database cannot be reached, or its connection was lost',
  PYTI_DB_SCHEMA: 'the database was written by a newer PyTI (unknown schema version) or cannot be migrated',
  PYTI_MASTER_UNREACHABLE: 'the master did not answer (connection refused, timeout, 502/503/504) after retries',
  PYTI_STORAGE_FULL: 'the master\'s data disk is full (SQLITE_FULL, ENOSPC, EDQUOT): it refuses writes with HTTP 507 and serves reads until space is freed',
  PYTI_MASTER_INTERNAL: 'the master failed on an unexpected error of its own (HTTP 500; its log has the details); try again later',
  PYTI_INDEX_UNREACHABLE: 'the package index did not answer',
  PYTI_INDEX_NOT_FOUND: 'the package index has no such project, version or file',
  PYTI_INDEX_MALFORMED: 'the package index answered with something that is not its API\'s format',
  PYTI_INDEX_MISMATCH: 'the distribution the index served is not the project or version that was asked for',
  PYTI_INDEX_HOST_REFUSED: 'the index redirected, or named a file, to a host PyTI does not fetch from (not the index or a configured --files-host), or to a loopback, link-local or private address; a request body is never sent again to another origin',
  PYTI_INDEX_HASH_MISMATCH: 'a downloaded file does not match the sha256 the index publishes for it',
  PYTI_PREFETCH_FAILED: 'pip could not resolve or download the dependencies',
  PYTI_SLAVE_FAILED: 'the slave failed to run a job for a reason of its own (a full disk, a bug); the job is retried',
  PYTI_REPORT_NOT_READY: 'the audit has no report yet (queued or running) or was cancelled',
  PYTI_REPORT_INVALID: 'a stored report directory has no readable audit report (pyti rescore)',
  PYTI_FEED_MALFORMED: 'a feed (RSS) or XML-RPC answer is not well-formed, is truncated or oversize, or is not the expected shape',
  PYTI_FEED_FAULT: 'the index answered an XML-RPC call with a fault',
  PYTI_FEED_RATE_LIMITED: 'the index refused a feed call as too many requests (HTTP 429 or an HTTPTooManyRequests fault)',
  PYTI_FEED_STALE: 'the JSON API kept answering with an older serial than the change-log event, after retries',
  PYTI_FEED_SERIAL_INVALID: 'a change-log entry\'s serial is not a whole number, does not ascend, or is beyond the index\'s own last serial: the entry is quarantined and the cursor does not move to it',
  PYTI_FEED_ENTRY_MALFORMED: 'a change-log entry is not [name, version, timestamp, action, serial] of the expected types: the entry is quarantined and the change log moves on',
  PYTI_SUBSCRIPTION_INVALID: 'a subscription\'s definition or change is invalid (kind, projects, pattern, priority, backend, backlog)',
  PYTI_SUBSCRIPTION_NOT_FOUND: 'no subscription with this name',
  PYTI_SUBSCRIPTION_EXISTS: 'a subscription with this name already exists',
  PYTI_GIT_UNREACHABLE: 'the repository could not be fetched (no such path or host, not a git repository, refused, authentication or host key needed)',
  PYTI_GIT_BRANCH_NOT_FOUND: 'the repository has no such branch',
  PYTI_GIT_TIMEOUT: 'a git command took longer than its time limit and was killed',
  PYTI_GIT_TOO_LARGE: 'a commit\'s archive, or a git command\'s output, is above its limit',
  PYTI_REPORT_REJECTED: 'a slave\'s report cannot be rendered or contradicts itself (missing sections, counts that do not add up, malformed tasks); the job is retried on another slave',
  PYTI_WEBHOOK_INVALID: 'a webhook\'s definition is invalid (URL not http(s), events, secret, subscription)',
  PYTI_WEBHOOK_NOT_FOUND: 'no webhook with this id',
  PYTI_GIT_FAILED: 'a git command failed for another reason (a corrupt object, a full disk, unexpected output)',
  PYTI_HOST_NOT_ALLOWED: 'the request\'s Host header is not a name this master answers to (pyti master --allowed-host)',
  PYTI_CSRF: 'a form post to the master\'s pages did not come from one of its pages (Origin / Sec-Fetch-Site)',
  PYTI_UPLOAD_NAME_MISMATCH: 'an uploaded distribution\'s file name does not match the project and version in its own metadata',
  PYTI_SLAVE_NOT_FOUND: 'no slave with this name has registered or has a token',
  PYTI_SUBMISSION_INVALID: 'a submission is invalid: the zip holds no auditable project, too many entries, an entry that is not a distribution or project directory, or a bad git ref',
  PYTI_SUBMISSION_NOT_FOUND: 'no submission with this id',
  PYTI_RAW_PRUNED: 'the audit\'s raw data or distribution file was deleted by the retention policy (pyti master gc); its report stays',
  PYTI_INFRA_RESULT: 'an audit ended on an infrastructure failure (an error:* result) on a slave; it is retried on another slave up to pyti master --max-infra-retries times before that result is stored',
  PYTI_DATA_DIR_LOCKED: 'the master\'s data directory is in use by another master (the error names its pid, host and start time), or cannot be locked',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable code and, where there is one, its cause. */
export class PytiError extends Error {
  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PytiError';
  }
}
