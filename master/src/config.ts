/**
 * The master's configuration: flags over environment over safe defaults, validated once and frozen.
 * Every problem is a `PYTI_CONFIG_INVALID` error naming the flag or variable.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { FetchPolicy, normalizeIndexUrl } from '@pyti/common';
import { allowedHostList } from './http/allowed-hosts.js';
import { loadNotifyConfig, type NotifyConfig, type NotifyFlags } from './notify/notify-config.js';
import { loadRetentionConfig, type RetentionConfig, type RetentionFlags } from './retention/retention-config.js';

export interface MasterConfig {
  /** Database, blobs and tokens live here. */
  readonly dataDir: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** How long a lease lasts without a heartbeat. */
  readonly leaseMs: number;
  /** How often slaves should send heartbeats (< leaseMs / 2). */
  readonly heartbeatMs: number;
  /** Longest long-poll the master honours in `jobs.lease`. */
  readonly maxWaitMs: number;
  /** Attempts a job gets before it ends as `PYTI_ATTEMPTS_EXHAUSTED`. */
  readonly maxAttempts: number;
  /** Times a report with an infrastructure result (`error:*`) is retried on another slave before it is stored (within maxAttempts). */
  readonly maxInfraRetries: number;
  readonly defaultBackend: string;
  /** Largest distribution a user may upload. */
  readonly maxUploadBytes: number;
  /** Reads of the user API and pages need no token. */
  readonly publicRead: boolean;
  /**
   * Where the feed readers and the observation sender may fetch from (built from --index-url and
   * --files-host, validated here): the index's origin and its files hosts, never other hosts or
   * private addresses (see FetchPolicy).
   */
  readonly fetchPolicy: FetchPolicy;
  /** User token from the environment or flags (overrides tokens.json's). */
  readonly userToken: string | null;
  /** Extra slave tokens, name → token (added to tokens.json's). */
  readonly slaveTokens: Readonly<Record<string, string>>;
  /** The package index subscriptions follow (normalized, no trailing slash). */
  readonly indexUrl: string;
  /** Poll the index: always, never, or `auto` (once an index subscription exists). */
  readonly follow: boolean | 'auto';
  /** Between change-log polls. */
  readonly pollMs: number;
  /** Between RSS polls; 0: no RSS. */
  readonly rssPollMs: number;
  /** Between polls of the git subscriptions' repositories. */
  readonly gitPollMs: number;
  /**
   * How the index is followed: `changelog` (XML-RPC change log, the default), `simple` (the PEP 691
   * JSON `/simple/` root and project pages only, no XML-RPC), or `both` (the change log, with a
   * periodic `/simple/` reconciliation pass).
   */
  readonly feed: 'changelog' | 'simple' | 'both';
  /** Between `/simple/` passes (feed `simple` or `both`). */
  readonly simplePollMs: number;
  /**
   * The index API token for reporting malicious verdicts (PyPI's observations API on `indexUrl`);
   * null: nothing is reported.
   */
  readonly observationsToken: string | null;
  /**
   * Host names (lower case, `name` or `name:port`) the master answers to; any other `Host` header
   * gets 421 `PYTI_HOST_NOT_ALLOWED` (a DNS-rebinding page cannot reach it). `['*']`: any.
   */
  readonly allowedHosts: readonly string[];
  /** Longest time to receive a whole request, headers and body (Node's requestTimeout). */
  readonly requestTimeoutMs: number;
  /** A connection idle this long is closed (Fastify's connectionTimeout); above maxWaitMs, so long-polls live. */
  readonly idleTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  readonly keepAliveTimeoutMs: number;
  /** Notifications: public URL of links, SMTP server (see notify/notify-config.ts). */
  readonly notify: NotifyConfig;
  /** What gc may delete and how often a running master collects (see retention/retention-config.ts). */
  readonly retention: RetentionConfig;
  /** A PostgreSQL URL (`--database postgres://…`, PYTI_DATABASE_URL): the store several masters share; null: SQLite in dataDir. */
  readonly database: string | null;
  /** Where blobs live (`--blob-dir`): a directory every master of one database shares; default dataDir/blobs. */
  readonly blobDir: string;
}

/** Command-line flags as `pyti master` parses them (strings as given). */
export interface MasterFlags extends NotifyFlags, RetentionFlags {
  data?: string;
  /** `--database postgres://…` */
  database?: string;
  /** `--blob-dir DIR` */
  blobDir?: string;
  host?: string;
  port?: string | number;
  leaseMs?: string | number;
  heartbeatMs?: string | number;
  maxWaitMs?: string | number;
  maxAttempts?: string | number;
  maxInfraRetries?: string | number;
  defaultBackend?: string;
  maxUploadBytes?: string | number;
  /** `--files-host` (repeatable): files hosts besides the index; default files.pythonhosted.org for pypi.org. */
  filesHost?: string[];
  publicRead?: boolean;
  userToken?: string;
  /** `name:token`, repeatable. */
  slaveToken?: string[];
  indexUrl?: string;
  /** `--follow` (true) / `--no-follow` (false); unset: auto. */
  follow?: boolean;
  pollMs?: string | number;
  rssPollMs?: string | number;
  gitPollMs?: string | number;
  /** `--feed changelog|simple|both`. */
  feed?: string;
  simplePollMs?: string | number;
  observationsToken?: string;
  /** `--allowed-host NAME[:PORT]`, repeatable, added to the defaults; `*` turns the check off. */
  allowedHost?: string[];
  requestTimeoutMs?: string | number;
  idleTimeoutMs?: string | number;
  keepAliveTimeoutMs?: string | number;
}

export const MASTER_DEFAULTS = {
  host: '127.0.0.1',
  port: 8470,
  leaseMs: 60_000,
  heartbeatMs: 15_000,
  maxWaitMs: 30_000,
  maxAttempts: 3,
  maxInfraRetries: 2,
  defaultBackend: 'bwrap',
  maxUploadBytes: 100 * 1024 * 1024,
  indexUrl: 'https://pypi.org',
  pollMs: 60_000,
  rssPollMs: 15_000,
  gitPollMs: 60_000,
  /** A `/simple/` pass: every minute when it is the only follower, every 10 minutes beside the change log. */
  simplePollMs: 60_000,
  reconcilePollMs: 600_000,
  requestTimeoutMs: 120_000,
  /** Added to maxWaitMs for the idle timeout's default. */
  idleMarginMs: 30_000,
  keepAliveTimeoutMs: 5_000,
} as const;

const SLAVE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOKEN = /^[\x21-\x7e]{8,256}$/;
const BACKEND = /^[a-z][a-z0-9-]{0,31}$/;

function invalid(what: string, why: string): never {
  throw new PytiError('PYTI_CONFIG_INVALID', `${what}: ${why}`);
}

function int(what: string, v: string | number | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined || v === '') return dflt;
  const n = typeof v === 'number' ? v : /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) invalid(what, `${JSON.stringify(v)} is not an integer`);
  if (n < min || n > max) invalid(what, `${n} is outside ${min}..${max}`);
  return n;
}

/** Checks a slave token and its name; throws PYTI_CONFIG_INVALID naming `what`. */
export function checkSlaveToken(what: string, name: string, token: string): void {
  if (!SLAVE_NAME.test(name)) invalid(what, `slave name ${JSON.stringify(name)} must be 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)`);
  if (!TOKEN.test(token)) invalid(what, `the token of slave ${name} must be 8-256 printable characters without spaces`);
}

function parseSlaveTokens(what: string, specs: string[], into: Record<string, string>): void {
  for (const spec of specs) {
    const i = spec.indexOf(':');
    if (i <= 0) invalid(what, `an entry (${spec.length} characters, not shown: it may be a token) is not name:token`);
    const name = spec.slice(0, i);
    const token = spec.slice(i + 1);
    checkSlaveToken(what, name, token);
    if (into[name] !== undefined && into[name] !== token) invalid(what, `slave ${name} is given two different tokens`);
    into[name] = token;
  }
}

/** Builds and validates the master's configuration; throws PytiError PYTI_CONFIG_INVALID. */
export function loadMasterConfig(flags: MasterFlags = {}, env: Record<string, string | undefined> = process.env): MasterConfig {
  const dataDir = resolve(flags.data ?? env.PYTI_MASTER_DATA ?? join(homedir(), '.local', 'share', 'pyti', 'master'));
  const host = flags.host ?? MASTER_DEFAULTS.host;
  if (!/^[A-Za-z0-9.:_-]{1,255}$/.test(host)) invalid('--host', `${JSON.stringify(host)} is not a host name or address`);
  const port = int('--port', flags.port, MASTER_DEFAULTS.port, 0, 65535);
  const leaseMs = int('--lease-ms', flags.leaseMs, MASTER_DEFAULTS.leaseMs, 100, 24 * 3600_000);
  const heartbeatMs = int('--heartbeat-ms', flags.heartbeatMs, Math.min(MASTER_DEFAULTS.heartbeatMs, Math.floor(leaseMs / 4)), 10, 3600_000);
  if (heartbeatMs >= leaseMs / 2) invalid('--heartbeat-ms', `${heartbeatMs} must be less than half the lease (${leaseMs} ms)`);
  const maxWaitMs = int('--max-wait-ms', flags.maxWaitMs, MASTER_DEFAULTS.maxWaitMs, 0, 600_000);
  const maxAttempts = int('--max-attempts', flags.maxAttempts, MASTER_DEFAULTS.maxAttempts, 1, 100);
  const maxInfraRetries = int('--max-infra-retries', flags.maxInfraRetries, MASTER_DEFAULTS.maxInfraRetries, 0, 100);
  const maxUploadBytes = int('--max-upload-bytes', flags.maxUploadBytes, MASTER_DEFAULTS.maxUploadBytes, 1024, 4 * 1024 ** 3);
  const defaultBackend = flags.defaultBackend ?? MASTER_DEFAULTS.defaultBackend;
  if (!BACKEND.test(defaultBackend)) invalid('--default-backend', `${JSON.stringify(defaultBackend)} is not a backend name`);
  const userToken = flags.userToken ?? env.PYTI_USER_TOKEN ?? null;
  if (userToken !== null && !TOKEN.test(userToken)) invalid(flags.userToken !== undefined ? '--user-token' : 'PYTI_USER_TOKEN', 'must be 8-256 printable characters without spaces');
  const slaveTokens: Record<string, string> = {};
  const envSpecs = (env.PYTI_SLAVE_TOKENS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  parseSlaveTokens('PYTI_SLAVE_TOKENS', envSpecs, slaveTokens);
  parseSlaveTokens('--slave-token', flags.slaveToken ?? [], slaveTokens);
  const tokens = Object.entries(slaveTokens);
  for (const [a, ta] of tokens) {
    if (userToken !== null && ta === userToken) invalid('--slave-token', `slave ${a}'s token is the user token`);
    for (const [b, tb] of tokens) if (a < b && ta === tb) invalid('--slave-token', `slaves ${a} and ${b} share a token (a token names one slave)`);
  }
  const indexFrom = flags.indexUrl !== undefined ? '--index-url' : 'PYTI_INDEX_URL';
  let indexUrl: string;
  try {
    indexUrl = normalizeIndexUrl(flags.indexUrl ?? (env.PYTI_INDEX_URL || MASTER_DEFAULTS.indexUrl));
  } catch (err) {
    invalid(indexFrom, (err as Error).message);
  }
  let fetchPolicy: FetchPolicy;
  try {
    fetchPolicy = FetchPolicy.forIndex(indexUrl, { filesHosts: flags.filesHost?.length ? flags.filesHost : undefined });
  } catch (err) {
    invalid('--files-host', (err as Error).message);
  }
  const pollMs = int('--poll-ms', flags.pollMs, MASTER_DEFAULTS.pollMs, 100, 24 * 3600_000);
  const rssPollMs = int('--rss-poll-ms', flags.rssPollMs, MASTER_DEFAULTS.rssPollMs, 0, 24 * 3600_000);
  if (rssPollMs > 0 && rssPollMs < 100) invalid('--rss-poll-ms', `${rssPollMs} is below 100 (0 turns RSS off)`);
  const gitPollMs = int('--git-poll-ms', flags.gitPollMs, MASTER_DEFAULTS.gitPollMs, 100, 24 * 3600_000);
  const feed = flags.feed ?? 'changelog';
  if (feed !== 'changelog' && feed !== 'simple' && feed !== 'both') invalid('--feed', `${JSON.stringify(feed.slice(0, 40))} is not changelog, simple or both`);
  const simplePollMs = int('--simple-poll-ms', flags.simplePollMs, feed === 'both' ? MASTER_DEFAULTS.reconcilePollMs : MASTER_DEFAULTS.simplePollMs, 100, 24 * 3600_000);
  const observationsToken = flags.observationsToken ?? (env.PYTI_OBSERVATIONS_TOKEN || null);
  if (observationsToken !== null && !TOKEN.test(observationsToken)) {
    invalid(flags.observationsToken !== undefined ? '--observations-token' : 'PYTI_OBSERVATIONS_TOKEN', 'must be 8-256 printable characters without spaces');
  }
  const requestTimeoutMs = int('--request-timeout-ms', flags.requestTimeoutMs, MASTER_DEFAULTS.requestTimeoutMs, 1000, 24 * 3600_000);
  const idleTimeoutMs = int('--idle-timeout-ms', flags.idleTimeoutMs, maxWaitMs + MASTER_DEFAULTS.idleMarginMs, 1000, 24 * 3600_000);
  if (idleTimeoutMs <= maxWaitMs) invalid('--idle-timeout-ms', `${idleTimeoutMs} must be above --max-wait-ms (${maxWaitMs}): long-polls would be cut`);
  const keepAliveTimeoutMs = int('--keep-alive-timeout-ms', flags.keepAliveTimeoutMs, MASTER_DEFAULTS.keepAliveTimeoutMs, 100, 600_000);
  const allowedHosts = allowedHostList(host, flags.allowedHost ?? []);
  const notify = loadNotifyConfig(flags, env);
  const retention = loadRetentionConfig(flags, env);
  const database = flags.database ?? (env.PYTI_DATABASE_URL || null);
  if (database !== null && !/^postgres(ql)?:\/\/[^\s]+$/i.test(database)) {
    invalid(flags.database !== undefined ? '--database' : 'PYTI_DATABASE_URL', 'must be a postgres:// or postgresql:// URL (leave it out for SQLite in the data directory)');
  }
  const blobDir = resolve(flags.blobDir ?? env.PYTI_BLOB_DIR ?? join(dataDir, 'blobs'));
  return Object.freeze({
    database, blobDir,
    allowedHosts, requestTimeoutMs, idleTimeoutMs, keepAliveTimeoutMs,
    observationsToken, notify, retention,
    dataDir, host, port, leaseMs, heartbeatMs, maxWaitMs, maxAttempts, maxInfraRetries, defaultBackend, maxUploadBytes,
    indexUrl, fetchPolicy, follow: flags.follow ?? 'auto' as const, pollMs, rssPollMs, gitPollMs, feed, simplePollMs,
    publicRead: flags.publicRead ?? false,
    userToken,
    slaveTokens: Object.freeze(slaveTokens),
  });
}
