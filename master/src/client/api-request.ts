/**
 * One HTTP call to the master's user API, with retries: connection failures (refused, reset, DNS,
 * timeouts) are retried with exponential backoff, and so are 502/503/504 for calls that are safe to
 * repeat. Whatever still fails becomes a PytiError: the server's `error.code` when it sent a registered
 * one, else `PYTI_AUTH` (401/403), `PYTI_JOB_NOT_FOUND` (404), `PYTI_INPUT_TOO_LARGE` (413), `PYTI_USAGE` (other 4xx: the request
 * was wrong), `PYTI_MASTER_UNREACHABLE` (no answer, or 502/503/504), `PYTI_STORAGE_FULL` (507) or
 * `PYTI_MASTER_INTERNAL` (other 5xx), with the cause. A 5xx is never reported as the caller's usage
 * error, even when the server labelled it `PYTI_USAGE` (masters before the storage-full fix did).
 */
import { ERROR_CODES, PytiError, type ErrorCode } from '@pyti/vm-agent';

export interface RetryPolicy {
  /** Retries after the first try (default 3). */
  retries: number;
  /** First backoff delay; doubles each time (default 250 ms). */
  baseDelayMs: number;
  /** Per-try time limit for the answer's headers, 0 for none (default 30 s). */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 3, baseDelayMs: 250, timeoutMs: 30_000 };

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** Made afresh for each try (a stream cannot be sent twice). */
  body?: () => BodyInit;
  /** Whether repeating the call is harmless when an answer was lost (GETs, cancel). */
  idempotent: boolean;
  /** What the call is, for messages: e.g. `GET /api/v1/audits/abc`. */
  what: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const RETRY_STATUS = new Set([502, 503, 504]);

/** `fetch failed: connect ECONNREFUSED 127.0.0.1:1` (duck-typed: fetch's errors may come from another realm). */
function describe(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; cause?: unknown } | null;
  const c = e?.cause as { message?: unknown; code?: unknown } | undefined;
  const cause = c ? (typeof c.message === 'string' && c.message ? c.message : typeof c.code === 'string' ? c.code : '') : '';
  return `${typeof e?.message === 'string' ? e.message : String(err)}${cause ? `: ${cause}` : ''}`;
}

/** Turns a refused answer into a PytiError, preferring the server's own code. */
export function apiError(status: number, bodyText: string, what: string): PytiError {
  let code: string | undefined;
  let message = bodyText.slice(0, 500).trim();
  try {
    const j = JSON.parse(bodyText) as { error?: { code?: unknown; message?: unknown } | string; message?: unknown };
    if (j.error && typeof j.error === 'object') {
      if (typeof j.error.code === 'string') code = j.error.code;
      if (typeof j.error.message === 'string') message = j.error.message;
    } else if (typeof j.message === 'string') message = j.message; // Fastify's own error shape
  } catch { /* not JSON: keep the text */ }
  const text = `${what}: HTTP ${status}${message ? `: ${message}` : ''}`;
  const serverFault = status >= 500;
  if (code && code in ERROR_CODES && !(serverFault && code === 'PYTI_USAGE')) return new PytiError(code as ErrorCode, text);
  const fallback: ErrorCode = status === 401 || status === 403 ? 'PYTI_AUTH'
    : status === 404 ? 'PYTI_JOB_NOT_FOUND'
        : status === 413 ? 'PYTI_INPUT_TOO_LARGE'
          : status === 507 ? 'PYTI_STORAGE_FULL'
            : RETRY_STATUS.has(status) ? 'PYTI_MASTER_UNREACHABLE'
              : serverFault ? 'PYTI_MASTER_INTERNAL' : 'PYTI_USAGE';
  return new PytiError(fallback, code ? `${text} (server code ${code})` : text);
}

/** Sends `req` with `fetchFn`, retrying as described above; resolves to a 2xx response. */
export async function apiFetch(fetchFn: typeof fetch, req: ApiRequest, policy: RetryPolicy = DEFAULT_RETRY): Promise<Response> {
  let lastCause: unknown;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(policy.baseDelayMs * 2 ** (attempt - 1));
    let res: Response;
    try {
      const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers: req.headers, redirect: 'error' };
      if (req.body) {
        init.body = req.body();
        if (typeof (init.body as ReadableStream | undefined)?.getReader === 'function') init.duplex = 'half';
      }
      if (policy.timeoutMs > 0) init.signal = AbortSignal.timeout(policy.timeoutMs);
      res = await fetchFn(req.url, init);
    } catch (err) {
      lastCause = err;
      if (attempt < policy.retries) continue;
      const detail = describe(err);
      throw new PytiError('PYTI_MASTER_UNREACHABLE', `${req.what}: no answer from the master after ${attempt + 1} tries (${detail})`, { cause: err });
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    if (RETRY_STATUS.has(res.status) && req.idempotent && attempt < policy.retries) {
      lastCause = new Error(`HTTP ${res.status}`);
      continue;
    }
    const e = apiError(res.status, text, req.what);
    if (e.code === 'PYTI_MASTER_UNREACHABLE' && lastCause) (e as { cause?: unknown }).cause = lastCause;
    throw e;
  }
}
