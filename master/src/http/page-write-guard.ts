/**
 * The guard for a page's own state-changing form (e.g. a drain button posting to a route outside
 * `/api/`): the post must come from a page of this master (`isSameOrigin`, see same-origin.ts) and
 * carry the user token, as the `pyti_token` cookie (SameSite=Strict) or a Bearer header. Checked in
 * onRequest, before the body is read: 403 `PYTI_CSRF` or 401 `PYTI_AUTH`. Use it as
 * `{ onRequest: requirePageWrite(auth) }`. (JSON API writes under `/api/` need the Bearer header.)
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, type TokenAuthority } from '../auth.js';
import { sendApiError } from './body.js';
import { isSameOrigin } from './same-origin.js';
import { TOKEN_COOKIE, cookieValue } from './user-auth.js';

/** Whether the request carries the user token, in the Authorization header or the pages' cookie. */
export function hasUserToken(auth: TokenAuthority, req: FastifyRequest): boolean {
  const header = bearerToken(req.headers.authorization);
  if (header !== null) return auth.isUser(header);
  return auth.isUser(cookieValue(req.headers.cookie, TOKEN_COOKIE));
}

/** The onRequest guard of a page's own form post: same origin (403 `PYTI_CSRF`), then the user token (401 `PYTI_AUTH`). */
export function requirePageWrite(auth: TokenAuthority) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!isSameOrigin(req)) {
      await sendApiError(reply.header('connection', 'close'), 403, 'PYTI_CSRF', 'this form post does not come from a page of this master');
      return;
    }
    if (hasUserToken(auth, req)) return;
    await sendApiError(reply.header('connection', 'close'), 401, 'PYTI_AUTH', 'log in first (the user token is required)');
  };
}
