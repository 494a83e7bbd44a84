/**
 * Reading an untrusted HTTP answer's body with a size cap, as UTF-8 text: an answer larger than the
 * cap is cancelled as soon as it passes it (`PYTI_FEED_MALFORMED`), an answer cut off by the server
 * (the connection closed before the end) is truncated (`PYTI_FEED_MALFORMED`), and bytes that are not
 * UTF-8 are refused. Also: the `Retry-After` header as milliseconds.
 */
import { PytiError, type ErrorCode } from '@pyti/vm-agent';

/** Reads `res`'s body as UTF-8, at most `maxBytes`; throws `code` (default PYTI_FEED_MALFORMED) past it. */
export async function readCappedText(res: Response, maxBytes: number, what: string, code: ErrorCode = 'PYTI_FEED_MALFORMED'): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new PytiError(code, `${what}: the answer is larger than ${maxBytes} bytes (Content-Length ${declared})`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let step: ReadableStreamReadResult<Uint8Array>;
    try {
      step = await reader.read();
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new PytiError('PYTI_INDEX_UNREACHABLE', `${what}: timed out or aborted while reading the answer`, { cause: err });
      throw new PytiError(code, `${what}: truncated: the connection closed after ${total} bytes of the answer`, { cause: err });
    }
    const { done, value } = step;
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new PytiError(code, `${what}: the answer is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new PytiError(code, `${what}: the answer is not UTF-8`);
  }
}

/** `Retry-After` (seconds, or an HTTP date) as milliseconds from `now`, or undefined. Capped at a day. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const h = header.trim();
  if (/^\d{1,9}$/.test(h)) return Math.min(Number(h) * 1000, 86_400_000);
  const t = Date.parse(h);
  return Number.isNaN(t) ? undefined : Math.min(Math.max(0, t - now), 86_400_000);
}
