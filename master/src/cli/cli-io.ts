/**
 * What the master-side commands share: their I/O (the same shape as the slave CLI's), usage errors,
 * and the connection to the master from `--master`/`--token` or `PYTI_MASTER_URL`/`PYTI_TOKEN`.
 */
import { PytiError } from '@pyti/vm-agent';
import { DEFAULT_MASTER_URL, UserClient } from '../client/user-client.js';

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Whether output goes to a terminal (colours). */
  isTTY: boolean;
  /** The environment (default: process.env). */
  env?: Record<string, string | undefined>;
  /** For tests: the fetch the user-API client uses. */
  fetch?: typeof fetch;
}

export const defaultIO: CliIO = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stdout.isTTY),
};

/** A command-line mistake: exit 64 with the usage. */
export class UsageError extends PytiError {
  constructor(message: string) {
    super('PYTI_USAGE', message);
  }
}

/** The options every master-side command accepts, for node:util parseArgs. */
export const CONNECTION_OPTIONS = {
  master: { type: 'string' },
  token: { type: 'string' },
} as const;

/**
 * The user-API client for these flags and environment. `needToken`: fail early with a clear
 * PYTI_CONFIG_INVALID when no token is given (reads may work without one on a `--public-read` master).
 */
export function clientFor(flags: { master?: string; token?: string }, io: CliIO, needToken: boolean): UserClient {
  const env = io.env ?? process.env;
  const url = flags.master ?? (env.PYTI_MASTER_URL || DEFAULT_MASTER_URL);
  const token = flags.token ?? (env.PYTI_TOKEN || undefined);
  if (flags.token === '') throw new PytiError('PYTI_CONFIG_INVALID', '--token is empty');
  if (needToken && token === undefined) {
    throw new PytiError('PYTI_CONFIG_INVALID', `no token for the master at ${url}: pass --token T or set PYTI_TOKEN to the master's user token`);
  }
  return new UserClient({ url, token, fetch: io.fetch });
}

/** Parses a whole number within bounds, or throws a usage error naming the flag. */
export function intFlag(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${name} takes a whole number from ${min} to ${max}`);
  return n;
}
