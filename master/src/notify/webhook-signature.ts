/**
 * Webhook signatures: `X-PyTI-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw request body
 * under the webhook's secret. A receiver recomputes it over the bytes it received and compares in
 * constant time; `X-PyTI-Timestamp` (Unix seconds of the attempt) lets it refuse stale replays, and
 * `X-PyTI-Delivery` (the delivery id, the same on every retry) lets it drop duplicates.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-pyti-signature';
export const TIMESTAMP_HEADER = 'x-pyti-timestamp';
export const DELIVERY_HEADER = 'x-pyti-delivery';
export const EVENT_HEADER = 'x-pyti-event';

/** `sha256=<hex>` of `body` under `secret`. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** True when `signature` (a header value) is `body`'s signature under `secret` (constant-time compare). */
export function verifySignature(secret: string, body: string | Buffer, signature: string | undefined): boolean {
  if (typeof signature !== 'string') return false;
  const want = Buffer.from(signBody(secret, body));
  const got = Buffer.from(signature);
  return got.length === want.length && timingSafeEqual(got, want);
}
