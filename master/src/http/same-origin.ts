/**
 * CSRF protection of the pages' form posts (log in, log out, and any state-changing form a page
 * adds). Two layers: the token cookie is `SameSite=Strict` (another site's form post carries no
 * cookie), and every form post must come from a page of this master: its `Origin` header names the
 * same host as its (allow-listed) `Host` header, or, when a browser sends no `Origin`, its
 * `Sec-Fetch-Site` is `same-origin`. A post with neither is refused (403 `PYTI_CSRF`); scripts and
 * tools use the JSON API with `Authorization: Bearer` instead, which no other site can send.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendApiError } from './body.js';

/** Whether `req` comes from a page served by this master (see the module comment). */
export function isSameOrigin(req: FastifyRequest): boolean {
  const host = (req.headers.host ?? '').toLowerCase();
  const origin = req.headers.origin;
  if (typeof origin === 'string' && origin !== 'null') {
    try {
      return host !== '' && new URL(origin).host.toLowerCase() === host;
    } catch {
      return false;
    }
  }
  if (origin === 'null') return false;
  return req.headers['sec-fetch-site'] === 'same-origin';
}

/** An onRequest/preHandler hook refusing cross-site posts with 403 `PYTI_CSRF` (before the body is read). */
export async function requireSameOrigin(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (isSameOrigin(req)) return;
  await sendApiError(reply, 403, 'PYTI_CSRF', 'this form post does not come from a page of this master (Origin or Sec-Fetch-Site); tools should use the JSON API with Authorization: Bearer');
}
