/**
 * The errors of git subscriptions (`PYTI_GIT_*`), recorded on the subscription (its `git.lastError`,
 * shown by `pyti subscribe show` and `GET /api/v1/subscriptions/:name`) when a poll fails; the poll is
 * retried on the next round and the master goes on.
 *
 * The codes are in the one registry (vm-agent/src/errors.ts); git-errors.test.ts checks that each
 * can be produced. Every git error is built in this file, from git's own exit status and message
 * (with `LC_ALL=C`).
 */
import { ERROR_CODES, PytiError, type ErrorCode } from '@pyti/vm-agent';

/** The `PYTI_GIT_*` codes of the registry. */
export type GitErrorCode = Extract<ErrorCode, `PYTI_GIT_${string}`>;

/** The `PYTI_GIT_*` codes and what each means (a view of the one registry). */
export const GIT_ERROR_CODES: Readonly<Record<GitErrorCode, string>> = Object.freeze(Object.fromEntries(
  Object.entries(ERROR_CODES).filter(([c]) => c.startsWith('PYTI_GIT_')),
) as Record<GitErrorCode, string>);

/** An error of a git subscription's poll; `code` is one of GIT_ERROR_CODES. */
export class GitError extends PytiError {
  constructor(readonly gitCode: GitErrorCode, message: string, options?: { cause?: unknown }) {
    super(gitCode, message, options);
    this.name = 'GitError';
  }
}

/** What a finished git command left: its exit, its error output, whether it was killed for time. */
export interface GitExit {
  code: number | null;
  signal: string | null;
  stderr: string;
  timedOut: boolean;
}

const UNREACHABLE = [
  /does not appear to be a git repository/i, /could not read from remote repository/i, /unable to access/i, /could not resolve host/i,
  /connection (refused|timed out|reset)/i, /repository .* not found/i, /not found/i, /host key verification failed/i, /permission denied/i,
  /authentication failed/i, /terminal prompts disabled/i, /no such file or directory/i, /dubious ownership/i, /not a git repository/i,
  /protocol .* is not supported/i, /transport .* not allowed/i, /unable to connect/i, /early eof/i,
];

/** git's error lines, without noise, capped. */
export function gitMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^hint:/.test(l));
  const text = lines.join(' | ');
  return text.length > 1500 ? `${text.slice(0, 1500)}…` : text;
}

/**
 * The error of a failed git command. `fetch`: a failure to fetch from the repository (whose message
 * says why: an unknown branch, an unreachable repository); anything else is PYTI_GIT_FAILED.
 */
export function gitFailure(what: string, exit: GitExit, timeoutMs: number, fetch = false): GitError {
  if (exit.timedOut) return new GitError('PYTI_GIT_TIMEOUT', `${what}: killed after ${Math.round(timeoutMs / 1000)} s`);
  const msg = gitMessage(exit.stderr) || `git exited with ${exit.code ?? exit.signal}`;
  if (fetch && /couldn't find remote ref|no such remote ref|remote ref does not exist/i.test(exit.stderr)) {
    return new GitError('PYTI_GIT_BRANCH_NOT_FOUND', `${what}: the repository has no such branch (${msg})`);
  }
  if (fetch && UNREACHABLE.some((re) => re.test(exit.stderr))) return new GitError('PYTI_GIT_UNREACHABLE', `${what}: ${msg}`);
  if (fetch) return new GitError('PYTI_GIT_UNREACHABLE', `${what}: ${msg}`);
  return new GitError('PYTI_GIT_FAILED', `${what}: ${msg}`);
}

/** A git command's output (or a commit's archive) above `maxBytes`. */
export function gitTooLarge(what: string, maxBytes: number): GitError {
  return new GitError('PYTI_GIT_TOO_LARGE', `${what} is larger than ${maxBytes} bytes`);
}

/** git said something that is not what the command prints (a malformed commit id, …). */
export function gitUnexpected(what: string, detail: string): GitError {
  return new GitError('PYTI_GIT_FAILED', `${what}: unexpected output ${JSON.stringify(detail.slice(0, 200))}`);
}

/** git could not be started at all (not installed, not on PATH). */
export function gitNotRunnable(err: Error): GitError {
  return new GitError('PYTI_GIT_FAILED', `git could not be run on the master (is it installed?): ${err.message}`, { cause: err });
}

/** `err` as a PytiError: itself, or PYTI_GIT_FAILED with its message (an unexpected failure during a poll). */
export function asPytiError(err: unknown): PytiError {
  if (err instanceof PytiError) return err;
  return new GitError('PYTI_GIT_FAILED', err instanceof Error ? err.message : String(err), { cause: err });
}

/** Whether `err` is a commit's archive above the limit (the commit is skipped, not retried). */
export function isTooLarge(err: unknown): err is GitError {
  return err instanceof GitError && err.gitCode === 'PYTI_GIT_TOO_LARGE';
}
