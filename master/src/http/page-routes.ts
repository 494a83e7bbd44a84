/**
 * The master's HTML pages (rendered by web/pages.ts): `/` lists audits, `/audits/:id` shows one.
 * Opening a page with `?token=<user token>` stores the token in an HttpOnly cookie (then redirects
 * without it), so the pages' own polling of the user API is authenticated.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenAuthority } from '../auth.js';
import type { JobQueue } from '../queue/job-queue.js';
import { renderAuditListPage, renderAuditPage } from '../web/pages.js';
import { metadataPanel } from '../web/metadata-panel.js';
import { traceLinksPanel } from '../web/trace-links-panel.js';
import { renderStoredReport } from './audit-routes.js';
import { sendApiError } from './body.js';
import { tokenCookie, type Access } from './user-auth.js';

export interface PageRoutesOptions {
  queue: JobQueue;
  auth: TokenAuthority;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
}

/** Gives the embedded report a base URL under the audit's API path, so its relative `raw/…` links resolve. */
export function withReportBase(html: string, auditId: string): string {
  const base = `<base href="/api/v1/audits/${encodeURIComponent(auditId)}/">`;
  return html.includes('<head>') ? html.replace('<head>', `<head>${base}`) : `${base}${html}`;
}

export async function pageRoutes(app: FastifyInstance, opts: PageRoutesOptions): Promise<void> {
  const read = opts.guard('read');
  // ?token=…: check it, keep it in a cookie, and drop it from the address bar.
  const login = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = (req.query as Record<string, string | undefined>).token;
    if (token === undefined) return read(req as never, reply as never);
    if (!opts.auth.isUser(token)) return sendApiError(reply, 401, 'PYTI_AUTH', 'wrong user token');
    return reply.header('set-cookie', tokenCookie(token)).redirect(req.url.split('?')[0]!, 303);
  };

  app.get('/', { preHandler: login }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(renderAuditListPage(opts.queue.list({ limit: 100 }), { title: 'PyTI audits' })));

  app.get<{ Params: { id: string } }>('/audits/:id', { preHandler: login }, async (req, reply) => {
    const d = opts.queue.detail(req.params.id);
    if (!d) return sendApiError(reply, 404, 'PYTI_JOB_NOT_FOUND', `no audit with id ${JSON.stringify(req.params.id.slice(0, 64))}`);
    const json = d.state === 'done' ? opts.queue.reportJson(d.id) : null;
    const html = json === null ? null : renderStoredReport(json, d.id, true);
    return reply.type('text/html; charset=utf-8').send(renderAuditPage(d, html === null ? null : withReportBase(html, d.id), metadataPanel(json) + traceLinksPanel(d)));
  });
}
