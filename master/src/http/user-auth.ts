/**
 * Who may use the user API: the user token as `Authorization: Bearer <token>`, or, for reads from a
 * browser, the `pyti_token` cookie (set by the login page, or by opening a page with
 * `?token=<token>`). Writes need the header (so a cookie cannot be ridden by another site). With
 * public read, reads need no token. A page (a GET outside `/api/`) without the token answers 401 with
 * the login page instead of JSON.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, type TokenAuthority } from '../auth.js';
import { renderLoginPage } from '../web/login-page.js';
import { sendApiError } from './body.js';

/** Name of the browser's token cookie. */
export const TOKEN_COOKIE = 'pyti_token';

/** The value of cookie `name` in a Cookie header, or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** A `Set-Cookie` value holding the user token for the pages (HttpOnly, SameSite=Strict; Secure over https). */
export function tokenCookie(token: string, secure = false): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** A `Set-Cookie` value removing the token cookie (log out). */
export function clearTokenCookie(secure = false): string {
  return `${TOKEN_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** A same-site path to return to after logging in: `/…` but not `//…` or `/\…`; anything else is `/`. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[\x21-\x7e]{0,2000}$/.test(next) ? next : '/';
}

/** Whether `req` is a browser opening a page (a GET or HEAD outside the JSON API, the RPC and the Atom feeds). */
export function isPageRequest(req: FastifyRequest): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && !/^\/(api|rpc|feeds)\//.test(req.url);
}

export type Access = 'read' | 'write' | 'admin';

/** Builds a preHandler that refuses requests without the access they need (401, PYTI_AUTH). */
export function requireUser(auth: TokenAuthority, publicRead: boolean, access: Access) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (access === 'read' && publicRead) return;
    const header = bearerToken(req.headers.authorization);
    if (auth.isUser(header)) return;
    if (access === 'read' && header === null && auth.isUser(cookieValue(req.headers.cookie, TOKEN_COOKIE))) return;
    if (isPageRequest(req)) {
      await reply.code(401).type('text/html; charset=utf-8').send(renderLoginPage({ next: safeNext(req.url) }));
      return;
    }
    await sendApiError(reply, 401, 'PYTI_AUTH', access === 'read'
      ? 'the user token is required (Authorization: Bearer <token>, or open the page once with ?token=<token>)'
      : 'the user token is required (Authorization: Bearer <token>)');
  };
}
