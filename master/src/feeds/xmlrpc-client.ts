/**
 * An XML-RPC client over `fetch`: one POST per call (`Content-Type: text/xml`), a timeout, a capped
 * answer, and the error codes the feed readers act on:
 * - HTTP 429, or a fault whose text says too many requests (PyPI: `-32500 HTTPTooManyRequests: … Limit
 *   may reset in N seconds.`) → {@link FeedRateLimitedError} (`PYTI_FEED_RATE_LIMITED`) with the
 *   retry-after hint when the answer gives one;
 * - any other fault → `XmlRpcFault` (`PYTI_FEED_FAULT`); a malformed/truncated/oversize answer →
 *   `PYTI_FEED_MALFORMED`; no answer or another HTTP status → `PYTI_INDEX_UNREACHABLE`.
 * It does not retry: the caller decides (see ChangelogReader). Redirects are followed only under the
 * FetchPolicy (the index's origin; the POST body is never sent to another origin): `PYTI_INDEX_HOST_REFUSED`.
 */
import { PytiError } from '@pyti/vm-agent';
import { FetchPolicy, policyFetch } from '@pyti/common';
import { readCappedText, retryAfterMs } from './http-body.js';
import { decodeMethodResponse, encodeMethodCall, XmlRpcFault, DEFAULT_MAX_RESPONSE_CHARS, type XmlRpcValue } from './xmlrpc-codec.js';

/** The index refused the call as too many requests. */
export class FeedRateLimitedError extends PytiError {
  constructor(message: string, readonly retryAfterMs?: number, options?: { cause?: unknown }) {
    super('PYTI_FEED_RATE_LIMITED', message, options);
  }
}

export interface XmlRpcClientOptions {
  /** The endpoint, e.g. `https://pypi.org/pypi`. */
  url: string;
  /** Per call, until the whole answer is read. Default 120 s. */
  timeoutMs?: number;
  /** Largest answer. Default 64 MiB. */
  maxResponseBytes?: number;
  /** One exchange without redirects, injectable for tests; default the policy's pinned transport. */
  fetch?: typeof fetch;
  userAgent?: string;
  /** Where the call and its redirects may go (default: the endpoint's own origin only). */
  policy?: FetchPolicy;
}

const TOO_MANY = /too\s*many\s*requests/i;

/** The `Limit may reset in N seconds` hint of PyPI's rate-limit fault, as milliseconds. */
export function faultRetryAfterMs(faultString: string): number | undefined {
  const m = /reset in (\d{1,7}) seconds?/i.exec(faultString);
  return m ? Number(m[1]) * 1000 : undefined;
}

/** Calls XML-RPC methods on one endpoint. */
export class XmlRpcClient {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly fetchImpl: typeof fetch | undefined;
  private readonly userAgent: string;
  private readonly policy: FetchPolicy;

  constructor(opts: XmlRpcClientOptions) {
    this.url = opts.url;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.maxBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_CHARS;
    this.fetchImpl = opts.fetch;
    this.policy = opts.policy ?? FetchPolicy.forIndex(new URL(opts.url).origin, { filesHosts: [] });
    this.userAgent = opts.userAgent ?? 'pyti-master';
  }

  /** Calls `method(params…)`; resolves to its value or throws a PytiError (see the module comment). */
  async call(method: string, params: readonly XmlRpcValue[] = [], signal?: AbortSignal): Promise<XmlRpcValue> {
    const body = encodeMethodCall(method, params);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const sig = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const what = `XML-RPC ${method} at ${this.url}`;
    let res: Response;
    let text: string;
    try {
      res = await policyFetch(this.policy, this.url, { method: 'POST', body, signal: sig, headers: { 'content-type': 'text/xml', 'user-agent': this.userAgent } }, { transport: this.fetchImpl });
      if (res.status === 429) {
        await res.body?.cancel().catch(() => undefined);
        const after = retryAfterMs(res.headers.get('retry-after'));
        throw new FeedRateLimitedError(`${what}: HTTP 429 too many requests${after === undefined ? '' : ` (retry after ${after} ms)`}`, after);
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        throw new PytiError('PYTI_INDEX_UNREACHABLE', `${what}: HTTP ${res.status}`);
      }
      text = await readCappedText(res, this.maxBytes, what);
    } catch (err) {
      if (err instanceof PytiError) throw err;
      if (signal?.aborted) throw signal.reason;
      const c = (err as Error).cause as Error | undefined;
      throw new PytiError('PYTI_INDEX_UNREACHABLE', `${what}: ${(err as Error).message}${c?.message ? ` (${c.message})` : ''}`, { cause: err });
    }
    try {
      return decodeMethodResponse(text, { maxChars: this.maxBytes, method });
    } catch (err) {
      if (err instanceof XmlRpcFault && TOO_MANY.test(err.faultString)) {
        const after = faultRetryAfterMs(err.faultString) ?? retryAfterMs(res.headers.get('retry-after'));
        throw new FeedRateLimitedError(`${what}: ${err.faultString.slice(0, 300)}`, after, { cause: err });
      }
      if (err instanceof PytiError && err.code === 'PYTI_FEED_MALFORMED') throw new PytiError('PYTI_FEED_MALFORMED', `${what}: ${err.message}`, { cause: err });
      throw err;
    }
  }
}
