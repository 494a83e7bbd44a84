/**
 * Checks for the pages' own forms (POST with the user token's cookie): the request must come from
 * this origin. A browser sends `Sec-Fetch-Site` (must be `same-origin`) or at least `Origin` (must be
 * this server's own `scheme://host`) on every cross-site POST; a request with neither is refused too,
 * so a form on another site can never ride the cookie (which is also SameSite=Strict).
 */
import type { FastifyRequest } from 'fastify';
import { bearerToken, type TokenAuthority } from '../auth.js';
import { cookieValue, TOKEN_COOKIE } from './user-auth.js';

/** Why the request is not same-origin, or null when it is. */
export function crossOriginReason(req: FastifyRequest): string | null {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin' ? null : `Sec-Fetch-Site is ${JSON.stringify(site.slice(0, 40))}, not same-origin`;
  const origin = req.headers.origin;
  if (typeof origin !== 'string') return 'the request has neither Sec-Fetch-Site nor Origin';
  const own = `${req.protocol}://${req.headers.host ?? ''}`;
  return origin === own ? null : `Origin ${JSON.stringify(origin.slice(0, 100))} is not ${JSON.stringify(own)}`;
}

/** Whether the request carries the user token, in the Authorization header or the pages' cookie. */
export function hasUserToken(auth: TokenAuthority, req: FastifyRequest): boolean {
  const header = bearerToken(req.headers.authorization);
  if (header !== null) return auth.isUser(header);
  return auth.isUser(cookieValue(req.headers.cookie, TOKEN_COOKIE));
}
