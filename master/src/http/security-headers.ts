/**
 * Security headers on every response of the master (pages, the user API, the command API, errors):
 *
 * - `Content-Security-Policy`: on HTML, scripts and styles run only with this response's nonce
 *   (`request.cspNonce`, 128 random bits, new for every request) or, for styles, from the master's
 *   own stylesheet (`/assets/pyti.css`); no `'unsafe-inline'`, no `eval`, no other origins, no
 *   plugins, forms post only to the master, `frame-ancestors 'none'`. Everything else gets
 *   `default-src 'none'; frame-ancestors 'none'`. A route that sets its own policy (the stored report,
 *   artifacts) keeps it.
 * - `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` (`SAMEORIGIN` when the route's own
 *   policy allows `frame-ancestors 'self'`), `Referrer-Policy: same-origin` (no address leaves for
 *   another site; with `no-referrer` browsers would send `Origin: null` on the pages' own form
 *   posts, which the CSRF check needs), and
 *   `Cross-Origin-Opener-Policy: same-origin`.
 *
 * Pages read the nonce from `request.cspNonce` and put it on every `<script>` (see
 * `inlineScript` in web/page-shell.ts). An injected `<script>` has no nonce and does not run.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** This response's CSP nonce (base64, fresh per request). Put it on every inline `<script>`. */
    cspNonce: string;
  }
}

/** The policy of an HTML page answering with `nonce`. */
export function pagePolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'self'",
    "frame-src 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The policy of everything that is not a page (JSON, text, bytes): nothing may run or embed it. */
export const NON_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'";

/** Adds the hooks to `app` (call on the root instance, before routes are registered). */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.decorateRequest('cspNonce', '');
  app.addHook('onRequest', async (req) => {
    req.cspNonce = randomBytes(16).toString('base64');
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const own = reply.getHeader('content-security-policy');
    if (own === undefined) {
      const html = /^text\/html\b/i.test(String(reply.getHeader('content-type') ?? ''));
      reply.header('content-security-policy', html && req.cspNonce ? pagePolicy(req.cspNonce) : NON_PAGE_POLICY);
    }
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', typeof own === 'string' && /frame-ancestors\s+'self'/.test(own) ? 'SAMEORIGIN' : 'DENY');
    reply.header('referrer-policy', 'same-origin');
    reply.header('cross-origin-opener-policy', 'same-origin');
    return payload;
  });
}
