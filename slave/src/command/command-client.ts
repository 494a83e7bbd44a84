/**
 * The slave's client of the master's command API (command-protocol.ts): typed JSON-RPC 2.0 calls over
 * HTTP (`json-rpc-2.0`'s JSONRPCClient with `fetch`), and the content-addressed blob endpoints.
 *
 * Retries: connection errors, timeouts and HTTP 5xx (also 408/429) are retried with exponential backoff
 * and jitter until the policy's deadline, then fail as `PYTI_MASTER_UNREACHABLE` with the last cause.
 * A JSON-RPC error is the master's answer and is never retried: its `data.code` becomes the PytiError's
 * code (`PYTI_LEASE_LOST`, `PYTI_AUTH`, …). Every call is safe to repeat: the master's methods are
 * idempotent where it matters (`jobs.complete` answers `stored: false` to a replay).
 *
 * Security: the token goes only to the configured master URL (http or https, no credentials in it);
 * answers are size-capped and shape-checked before use (command-results.ts); downloaded blobs are
 * written to a temporary name, hashed while streaming and renamed into place only when the hash and
 * size match.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { JSONRPCClient, type JSONRPCRequest, type JSONRPCResponse } from 'json-rpc-2.0';
import { ERROR_CODES, PytiError, type ErrorCode } from '@pyti/vm-agent';
import { COMMAND_BLOB_PATH, COMMAND_LIMITS, COMMAND_RPC_PATH, CommandErrorCodes, type CommandMethod, type CommandParams, type CommandResult, backoffDelay, DEFAULT_RETRY_POLICY, sleep, type RetryPolicy } from '@pyti/common';
import { checkCommandResult, SHA256_HEX } from './command-results.js';

export interface CommandClientOptions {
  /** The master's base URL, e.g. `http://master:8080` (http or https). */
  masterUrl: string;
  /** This slave's bearer token. */
  token: string;
  retry?: Partial<RetryPolicy>;
  /** Time allowed for one HTTP exchange (a long-poll's `waitMs` is added for `jobs.lease`). Default 30 s. */
  requestTimeoutMs?: number;
  /** Told about each retry (for logs). */
  onRetry?: (info: { what: string; attempt: number; delayMs: number; error: Error }) => void;
  /** Largest answer accepted from the master. Default COMMAND_LIMITS.maxRpcBodyBytes. */
  maxResponseBytes?: number;
}

export interface CallOptions {
  /** Stops waiting and retrying (the call rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Overrides the policy's deadline for this call. */
  deadlineMs?: number;
}

/** A failure worth retrying (the master did not answer, or answered 5xx). */
class Transient extends Error {}

interface SendContext {
  signal: AbortSignal;
  failure?: Error;
}

/** Checks and normalises a master URL: http(s), no credentials, no query; returns it without a trailing slash. */
export function normalizeMasterUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PytiError('PYTI_CONFIG_INVALID', `master URL ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PytiError('PYTI_CONFIG_INVALID', `master URL ${url} is not http or https`);
  if (u.username || u.password) throw new PytiError('PYTI_CONFIG_INVALID', 'the master URL must not carry credentials (use the token)');
  if (u.search || u.hash) throw new PytiError('PYTI_CONFIG_INVALID', `master URL ${url} must not have a query or fragment`);
  return u.toString().replace(/\/+$/, '');
}

function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, v);
}

function clip(s: string, n = 2048): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Reads a response body, refusing more than `max` bytes. */
async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    n += chunk.length;
    if (n > max) {
      await res.body.cancel().catch(() => undefined);
      throw new PytiError('PYTI_RPC_INVALID', `the master's answer is larger than ${max} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The PYTI code in an error body: a JSON-RPC error's `data.code`, or the user API's `{error:{code}}`. */
function codeFromBody(body: unknown): { code?: ErrorCode; message?: string } {
  if (typeof body !== 'object' || body === null) return {};
  const e = (body as { error?: unknown }).error;
  if (typeof e !== 'object' || e === null) return {};
  const { code, message, data } = e as { code?: unknown; message?: unknown; data?: unknown };
  const dataCode = typeof data === 'object' && data !== null ? (data as { code?: unknown }).code : undefined;
  const found = isErrorCode(dataCode) ? dataCode : isErrorCode(code) ? code : undefined;
  return { code: found, message: typeof message === 'string' ? clip(message) : undefined };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** The master's JSON-RPC error answer: a PytiError with the JSON-RPC code too (e.g. CommandErrorCodes.notRegistered). */
export class CommandError extends PytiError {
  constructor(code: ErrorCode, message: string, readonly rpcCode: number) {
    super(code, message);
    this.name = 'CommandError';
  }
}

/** Maps a JSON-RPC error response to a PytiError (never retried). */
function rpcError(method: string, error: { code: number; message: string; data?: unknown }): CommandError {
  const fromData = codeFromBody({ error });
  const code: ErrorCode = fromData.code
    ?? (error.code === CommandErrorCodes.unauthorized ? 'PYTI_AUTH' : error.code === CommandErrorCodes.leaseLost ? 'PYTI_LEASE_LOST' : 'PYTI_RPC_INVALID');
  return new CommandError(code, `${method}: ${clip(String(error.message))}`, error.code);
}

/** The command API as seen from a slave. One instance per slave; safe for concurrent calls. */
export class CommandClient {
  readonly masterUrl: string;
  private readonly token: string;
  private readonly policy: RetryPolicy;
  private readonly requestTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly rpc: JSONRPCClient<SendContext>;

  constructor(private readonly opts: CommandClientOptions) {
    this.masterUrl = normalizeMasterUrl(opts.masterUrl);
    if (!opts.token || /[\s]/.test(opts.token)) throw new PytiError('PYTI_CONFIG_INVALID', 'the slave token is empty or contains white space');
    this.token = opts.token;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? COMMAND_LIMITS.maxRpcBodyBytes;
    this.rpc = new JSONRPCClient<SendContext>((payload, ctx) => this.send(payload as JSONRPCRequest, ctx), () => randomUUID());
  }

  /** Calls `method` with `params`; retries transient failures; resolves to the checked result. */
  async call<M extends CommandMethod>(method: M, params: CommandParams<M>, options: CallOptions = {}): Promise<CommandResult<M>> {
    const waitMs = method === 'jobs.lease' ? Math.max(0, Number((params as CommandParams<'jobs.lease'>).waitMs) || 0) : 0;
    return this.withRetry(method, options, async (signal) => {
      const ctx: SendContext = { signal: AbortSignal.any([signal, AbortSignal.timeout(Math.round(this.requestTimeoutMs + waitMs))]) };
      const response: JSONRPCResponse = await this.rpc.requestAdvanced({ jsonrpc: '2.0', id: randomUUID(), method, params: params as never }, ctx);
      if (ctx.failure) throw ctx.failure;
      if (response.error) throw rpcError(method, response.error);
      return checkCommandResult(method, response.result);
    });
  }

  /**
   * Uploads the file at `path` as a blob (streamed, not read into memory); resolves to its sha256.
   * The master hashes the body and refuses a mismatch (`PYTI_BLOB_MISMATCH`).
   */
  async putBlob(path: string, options: CallOptions = {}): Promise<string> {
    const sha256 = await sha256File(path);
    const sizeBytes = statSync(path).size;
    if (sizeBytes > COMMAND_LIMITS.maxBlobBytes) throw new PytiError('PYTI_BLOB_MISMATCH', `${path}: ${sizeBytes} bytes is above the blob limit`);
    await this.withRetry(`PUT blob ${sha256.slice(0, 12)}`, options, async (signal) => {
      const res = await this.fetchOrTransient(`${this.masterUrl}${COMMAND_BLOB_PATH}/${sha256}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/octet-stream', 'content-length': String(sizeBytes) },
        body: Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
        duplex: 'half',
        signal: AbortSignal.any([signal, AbortSignal.timeout(Math.round(this.requestTimeoutMs + sizeBytes / 1000))]),
      } as RequestInit);
      const text = await readCapped(res, 1024 * 1024);
      if (res.ok) return;
      this.throwHttp(res.status, text, 'PYTI_BLOB_MISMATCH', `PUT blob ${sha256}`);
    });
    return sha256;
  }

  /**
   * Downloads blob `sha256` to `dest`, hashing while streaming; the file appears at `dest` only when its
   * hash is `sha256` (else `PYTI_BLOB_MISMATCH`). `maxBytes` caps the download.
   */
  async getBlob(sha256: string, dest: string, options: CallOptions & { maxBytes?: number } = {}): Promise<{ sizeBytes: number }> {
    if (!SHA256_HEX.test(sha256)) throw new PytiError('PYTI_BLOB_MISMATCH', `${JSON.stringify(sha256)} is not a sha256`);
    const maxBytes = options.maxBytes ?? COMMAND_LIMITS.maxBlobBytes;
    return this.withRetry(`GET blob ${sha256.slice(0, 12)}`, options, async (signal) => {
      const res = await this.fetchOrTransient(`${this.masterUrl}${COMMAND_BLOB_PATH}/${sha256}`, {
        headers: { authorization: `Bearer ${this.token}` },
        signal: AbortSignal.any([signal, AbortSignal.timeout(Math.round(this.requestTimeoutMs + maxBytes / 1000))]),
      });
      if (!res.ok) {
        const text = await readCapped(res, 1024 * 1024);
        this.throwHttp(res.status, text, res.status === 404 ? 'PYTI_BLOB_MISMATCH' : 'PYTI_RPC_INVALID', `GET blob ${sha256}`);
      }
      const tmp = `${dest}.part-${process.pid}-${randomUUID().slice(0, 8)}`;
      const hash = createHash('sha256');
      let n = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _e, cb) {
          n += chunk.length;
          if (n > maxBytes) return cb(new PytiError('PYTI_BLOB_MISMATCH', `blob ${sha256} is larger than ${maxBytes} bytes`));
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      try {
        if (!res.body) throw new Transient('empty body');
        try {
          await pipeline(Readable.fromWeb(res.body as never), meter, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
        } catch (err) {
          if (err instanceof PytiError) throw err;
          if (signal.aborted) throw err;
          throw new Transient(`GET blob ${sha256}: ${(err as Error).message}`, { cause: err });
        }
        const got = hash.digest('hex');
        if (got !== sha256) throw new PytiError('PYTI_BLOB_MISMATCH', `blob ${sha256} from the master hashes to ${got}`);
        renameSync(tmp, dest);
        return { sizeBytes: n };
      } finally {
        rmSync(tmp, { force: true });
      }
    });
  }

  /** Runs `once` until it succeeds, fails for good, or the deadline passes. */
  private async withRetry<T>(what: string, options: CallOptions, once: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = options.signal ?? new AbortController().signal;
    const deadline = Date.now() + (options.deadlineMs ?? this.policy.deadlineMs);
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw signal.reason;
      try {
        return await once(signal);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (!(err instanceof Transient)) throw err;
        const delayMs = backoffDelay(attempt, this.policy);
        if (Date.now() + delayMs > deadline) {
          throw new PytiError('PYTI_MASTER_UNREACHABLE', `${what}: the master at ${this.masterUrl} did not answer after ${attempt} attempts (${err.message})`, { cause: err.cause ?? err });
        }
        this.opts.onRetry?.({ what, attempt, delayMs, error: err });
        await sleep(delayMs, signal);
      }
    }
  }

  private async fetchOrTransient(url: string, init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, { ...init, redirect: 'error' });
    } catch (err) {
      // Refused, reset, timed out: worth another try (withRetry stops first if the caller aborted).
      const cause = (err as Error).cause as Error | undefined;
      throw new Transient(`${(err as Error).message}${cause?.message ? ` (${cause.message})` : ''}`, { cause: err });
    }
    if (retryableStatus(res.status)) {
      await res.body?.cancel().catch(() => undefined);
      throw new Transient(`HTTP ${res.status}`);
    }
    return res;
  }

  private throwHttp(status: number, text: string, fallback: ErrorCode, what: string): never {
    const { code, message } = codeFromBody(parseJson(text));
    const c: ErrorCode = code ?? (status === 401 || status === 403 ? 'PYTI_AUTH' : fallback);
    throw new PytiError(c, `${what}: HTTP ${status}${message ? `: ${message}` : text ? `: ${clip(text, 300)}` : ''}`);
  }

  /** json-rpc-2.0's transport: POST one request, hand the checked answer back to the client. */
  private async send(payload: JSONRPCRequest, ctx: SendContext): Promise<void> {
    try {
      const res = await this.fetchOrTransient(`${this.masterUrl}${COMMAND_RPC_PATH}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(payload),
        signal: ctx.signal,
      });
      const text = await readCapped(res, this.maxResponseBytes);
      const body = parseJson(text) as Partial<JSONRPCResponse> | undefined;
      const isResponse = typeof body === 'object' && body !== null && body.jsonrpc === '2.0' && ('result' in body) !== ('error' in body);
      if (isResponse && body.error !== undefined) {
        const e = body.error as { code?: unknown; message?: unknown };
        if (typeof e !== 'object' || e === null || typeof e.code !== 'number' || typeof e.message !== 'string') {
          throw new PytiError('PYTI_RPC_INVALID', `${payload.method}: the master's error answer is malformed`);
        }
      }
      if (!isResponse || body.id !== payload.id) {
        this.throwHttp(res.status, text, 'PYTI_RPC_INVALID', `${payload.method}: the master's answer is not a JSON-RPC response to this request`);
      }
      this.rpc.receive(body as JSONRPCResponse);
    } catch (err) {
      ctx.failure = err as Error;
      throw err;
    }
  }
}

/** sha256 of a file, streamed. */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}
