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

export function requirePageWrite(auth: TokenAuthority) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!isSameOrigin(req)) {
      await sendApiError(reply.header('connection', 'close'), 403, 'PYTI_CSRF', 'this form post does not come from a page of this master');
      return;
    }
    if (auth.isUser(bearerToken(req.headers.authorization)) || auth.isUser(cookieValue(req.headers.cookie, TOKEN_COOKIE))) return;
    await sendApiError(reply.header('connection', 'close'), 401, 'PYTI_AUTH', 'log in first (the user token is required)');
  };
}
