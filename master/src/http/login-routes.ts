/**
 * Logging in to the pages, and their stylesheet:
 *
 * - `GET /login?next=/path`: the login form (public).
 * - `POST /login` (form: `token`, `next`): a right user token is kept in the `pyti_token` cookie
 *   (HttpOnly, SameSite=Strict, Secure when the request came over https) and the browser is sent to
 *   `next` (a same-site path only); a wrong one gets the form again, 401.
 * - `POST /logout`: removes the cookie, back to the login form.
 * - `GET /assets/pyti.css`: the pages' stylesheet (public).
 *
 * Both posts must come from a page of this master (`requireSameOrigin`, checked before the body is
 * read: 403 `PYTI_CSRF` otherwise) and their bodies are capped at 4 KiB.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TokenAuthority } from '../auth.js';
import { renderLoginPage } from '../web/login-page.js';
import { PAGE_CSS, PAGE_CSS_PATH } from '../web/page-shell.js';
import { requireSameOrigin } from './same-origin.js';
import { clearTokenCookie, safeNext, tokenCookie } from './user-auth.js';

const FORM_BODY_LIMIT = 4096;

/** Whether the cookie should be `Secure` (the request came over https, directly or as the proxy says when trusted). */
function overHttps(req: FastifyRequest): boolean {
  return req.protocol === 'https';
}

export async function loginRoutes(app: FastifyInstance, opts: { auth: TokenAuthority }): Promise<void> {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  const html = 'text/html; charset=utf-8';

  app.get<{ Querystring: { next?: string } }>('/login', async (req, reply) =>
    reply.type(html).send(renderLoginPage({ next: safeNext(req.query.next) })));

  app.post<{ Body: Record<string, string> | undefined }>('/login', { onRequest: requireSameOrigin, bodyLimit: FORM_BODY_LIMIT }, async (req, reply) => {
    const form = req.body && typeof req.body === 'object' ? req.body : {};
    const next = safeNext(form.next);
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    if (!opts.auth.isUser(token)) return reply.code(401).type(html).send(renderLoginPage({ next, error: 'That is not the user token.' }));
    return reply.header('set-cookie', tokenCookie(token, overHttps(req))).redirect(next, 303);
  });

  app.post('/logout', { onRequest: requireSameOrigin, bodyLimit: FORM_BODY_LIMIT }, async (req, reply) =>
    reply.header('set-cookie', clearTokenCookie(overHttps(req))).redirect('/login', 303));

  app.get(PAGE_CSS_PATH, async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(PAGE_CSS));
}
