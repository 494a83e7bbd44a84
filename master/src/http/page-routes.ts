/**
 * The master's HTML pages (rendered by web/pages.ts): `/` lists audits, `/audits/:id` shows one.
 * Opening a page with `?token=<user token>` stores the token in an HttpOnly cookie (then redirects
 * without it), so the pages' own polling of the user API is authenticated; without a token a page
 * answers with the login form (see login-routes.ts). Pages pass `req.cspNonce` to their scripts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenAuthority } from '../auth.js';
import type { JobQueue } from '../queue/job-queue.js';
import { renderAuditListPage, renderAuditPage } from '../web/pages.js';
import { renderReportOrReason } from '../web/report-render.js';
import { metadataPanel } from '../web/metadata-panel.js';
import { traceLinksPanel } from '../web/trace-links-panel.js';
import { masterReportLinks } from '../web/report-links.js';
import type { AuditSearch } from '../search/audit-search.js';
import { checkAuditFilter } from '../search/audit-filter.js';
import type { ProjectHistory } from '../projects/project-history.js';
import { projectStatusPanel, type ProjectStatusMarks } from '../projects/project-status-marks.js';
import { diffAgainst } from '../diff/diff-request.js';
import { auditHistorySection, isFlagged } from '../web/audit-history-section.js';
import { sendApiError } from './body.js';
import { renderLoginPage } from '../web/login-page.js';
import { safeNext, tokenCookie, type Access } from './user-auth.js';
import type { PrunedArtifacts } from '../retention/pruned-artifacts.js';

export interface PageRoutesOptions {
  queue: JobQueue;
  search: AuditSearch;
  history: ProjectHistory;
  /** PEP 792 status of an audit's project (a panel on the audit page); absent: not shown. */
  statusMarks?: ProjectStatusMarks;
  auth: TokenAuthority;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
  /** Marks artifacts gc deleted (the page says so and links only what is stored). */
  pruned?: PrunedArtifacts;
}

/** Gives the embedded report a base URL under the audit's API path, so its relative `raw/…` links resolve. */
export function withReportBase(html: string, auditId: string): string {
  const base = `<base href="/api/v1/audits/${encodeURIComponent(auditId)}/">`;
  return html.includes('<head>') ? html.replace('<head>', `<head>${base}`) : `${base}${html}`;
}

/** The pages' preHandler: `?token=…` is checked, kept in a cookie and dropped from the address bar; else the read guard. */
export function pageLogin(opts: Pick<PageRoutesOptions, 'auth' | 'guard'>) {
  const read = opts.guard('read');
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const token = (req.query as Record<string, string | undefined>).token;
    if (token === undefined) return read(req as never, reply as never);
    if (!opts.auth.isUser(token)) {
      return reply.code(401).type('text/html; charset=utf-8').send(renderLoginPage({ next: safeNext(req.url.split('?')[0]), error: 'That is not the user token.' }));
    }
    return reply.header('set-cookie', tokenCookie(token, req.protocol === 'https')).redirect(req.url.split('?')[0]!, 303);
  };
}

export async function pageRoutes(app: FastifyInstance, opts: PageRoutesOptions): Promise<void> {
  const login = pageLogin(opts);

  // The list: filters and paging from the query string (see search/audit-filter.ts), counts of the whole queue.
  app.get<{ Querystring: Record<string, unknown> }>('/', { preHandler: login }, async (req, reply) => {
    const raw = req.query;
    const filter = checkAuditFilter({ limit: '100', ...raw });
    const page = opts.search.page(filter);
    return reply.type('text/html; charset=utf-8').send(renderAuditListPage(page.audits, {
      title: 'PyTI audits', nonce: req.cspNonce, view: { raw, counts: page.counts, total: page.total, offset: page.offset, limit: page.limit },
    }));
  });

  app.get<{ Params: { id: string } }>('/audits/:id', { preHandler: login }, async (req, reply) => {
    const found = opts.queue.detail(req.params.id);
    if (!found) return sendApiError(reply, 404, 'PYTI_JOB_NOT_FOUND', `no audit with id ${JSON.stringify(req.params.id.slice(0, 64))}`);
    const d = opts.pruned ? opts.pruned.mark(found) : found;
    const json = d.state === 'done' ? opts.queue.reportJson(d.id) : null;
    const r = d.state === 'done' ? renderReportOrReason(json, masterReportLinks(d.id, true)) : { html: null, reason: null, judgement: null };
    const links = opts.history.linksOf(d.id);
    const newSince = links?.previousRelease && d.state === 'done' && isFlagged(d) ? diffAgainst(opts.queue, links.previousRelease.id, d.id) : null;
    const panels = projectStatusPanel(opts.statusMarks?.ofAudit(d) ?? null) + auditHistorySection(d, links, newSince) + metadataPanel(json) + traceLinksPanel({ id: d.id, artifacts: d.artifacts.filter((a) => !a.pruned) });
    return reply.type('text/html; charset=utf-8').send(renderAuditPage(d, r.html === null ? null : withReportBase(r.html, d.id), req.cspNonce, r.reason, r.judgement, panels));
  });
}
