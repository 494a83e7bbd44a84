/**
 * HTTP to the package index: a timeout per request, a few retries with backoff for connection errors
 * and 5xx, and error codes PyTI can act on: 404 is `PYTI_INDEX_NOT_FOUND` (a verdict on the input),
 * everything else that fails is `PYTI_INDEX_UNREACHABLE` (infrastructure). Requests and redirects go
 * only where the FetchPolicy allows (`PYTI_INDEX_HOST_REFUSED` otherwise, never retried).
 */
import { PytiError } from '@pyti/vm-agent';
import { backoffDelay, sleep, type RetryPolicy } from '../command/backoff.js';
import { FetchPolicy } from './fetch-policy.js';
import { policyFetch } from './policy-fetch.js';
import type { Transport } from './pinned-transport.js';

export interface IndexHttpOptions {
  /** Per request, until the headers arrive. Default 30 s. */
  timeoutMs?: number;
  /** Attempts in all for transient failures. Default 3. */
  attempts?: number;
  signal?: AbortSignal;
  /** Request headers besides the user agent (e.g. the Simple API's `Accept`). */
  headers?: Record<string, string>;
  /** Where the request and its redirects may go. Default: the URL's own origin only. */
  policy?: FetchPolicy;
  /** One exchange without redirects (tests); default the policy's pinned transport. */
  transport?: Transport;
}

const POLICY: RetryPolicy = { initialMs: 300, maxMs: 3000, factor: 2, deadlineMs: Number.MAX_SAFE_INTEGER };

/** GETs `url`; resolves to a 2xx response (body unread) or throws a PytiError. */
export async function indexGet(url: string, what: string, opts: IndexHttpOptions = {}): Promise<Response> {
  const attempts = opts.attempts ?? 3;
  const signal = opts.signal ?? new AbortController().signal;
  let last = '';
  let cause: unknown;
  const policy = opts.policy ?? FetchPolicy.forIndex(new URL(url).origin, { filesHosts: [] });
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await sleep(backoffDelay(attempt - 1, POLICY), signal);
    let res: Response;
    try {
      res = await policyFetch(policy, url, { signal: AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs ?? 30_000)]), headers: { 'user-agent': 'pyti-slave', ...opts.headers } }, { transport: opts.transport });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof PytiError) throw err; // a refused host or redirect: not transient
      cause = err;
      const c = (err as Error).cause as Error | undefined;
      last = `${(err as Error).message}${c?.message ? ` (${c.message})` : ''}`;
      continue;
    }
    if (res.ok) return res;
    await res.body?.cancel().catch(() => undefined);
    if (res.status === 404 || res.status === 410) throw new PytiError('PYTI_INDEX_NOT_FOUND', `${what}: the index has no ${what} (HTTP ${res.status} from ${url})`);
    last = `HTTP ${res.status}`;
    if (res.status < 500 && res.status !== 429 && res.status !== 408) break;
  }
  throw new PytiError('PYTI_INDEX_UNREACHABLE', `${what}: ${url}: ${last}`, { cause });
}

/**
 * The body of `res` as text, at most `max` bytes (`PYTI_INDEX_MALFORMED` beyond); a connection that
 * breaks off is `PYTI_INDEX_UNREACHABLE`.
 */
export async function readCapped(res: Response, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      n += chunk.length;
      if (n > max) {
        await res.body?.cancel().catch(() => undefined);
        throw new PytiError('PYTI_INDEX_MALFORMED', `${res.url}: the document is larger than ${max} bytes`);
      }
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    if (err instanceof PytiError) throw err;
    throw new PytiError('PYTI_INDEX_UNREACHABLE', `${res.url}: ${(err as Error).message}`, { cause: err });
  }
  return Buffer.concat(chunks).toString('utf8');
}
