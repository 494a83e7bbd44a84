/**
 * CSRF protection of the pages' form posts (log in, log out, and any state-changing form a page
 * adds). Two layers: the token cookie is `SameSite=Strict` (another site's form post carries no
 * cookie), and every form post must come from a page of this master: its `Sec-Fetch-Site` is
 * `same-origin`, or, from a browser that sends none, its `Origin` header names the same host as its
 * (allow-listed) `Host` header. A post with neither is refused (403 `PYTI_CSRF`); scripts and tools
 * use the JSON API with `Authorization: Bearer` instead, which no other site can send. (The pages'
 * `Referrer-Policy: same-origin` keeps browsers sending a real `Origin` on these posts.)
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendApiError } from './body.js';

/**
 * Whether `req` comes from a page served by this master: the browser's own `Sec-Fetch-Site` says
 * `same-origin` when it sends one (it cannot be set by a page); otherwise `Origin` names the host
 * of the request's `Host` header. `Origin: null` (a sandboxed or privacy-stripped origin) is refused.
 */
export function isSameOrigin(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin';
  const host = (req.headers.host ?? '').toLowerCase();
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || origin === 'null' || host === '') return false;
  try {
    return new URL(origin).host.toLowerCase() === host;
  } catch {
    return false;
  }
}

/** An onRequest/preHandler hook refusing cross-site posts with 403 `PYTI_CSRF` (before the body is read). */
export async function requireSameOrigin(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (isSameOrigin(req)) return;
  await sendApiError(reply, 403, 'PYTI_CSRF', 'this form post does not come from a page of this master (Origin or Sec-Fetch-Site); tools should use the JSON API with Authorization: Bearer');
}
