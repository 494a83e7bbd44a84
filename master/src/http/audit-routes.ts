/**
 * The user API's audit routes (see user-api.ts): submit by name, list, one audit, its report as
 * JSON and HTML, its artifacts (also under `raw/…` so the HTML report's relative links resolve),
 * and cancel.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { renderHtml, type AuditReport } from '@pyti/common';
import type { BlobStore } from '../blobs/blob-store.js';
import type { JobQueue } from '../queue/job-queue.js';
import { sendApiError } from './body.js';
import { checkSubmitByName } from './request-checks.js';
import { checkAuditFilter } from '../search/audit-filter.js';
import type { AuditSearch } from '../search/audit-search.js';
import type { ProjectHistory } from '../projects/project-history.js';
import type { ProjectStatusMarks } from '../projects/project-status-marks.js';
import { masterReportLinks } from '../web/report-links.js';
import type { Access } from './user-auth.js';
import type { PrunedArtifacts } from '../retention/pruned-artifacts.js';

export interface AuditRoutesOptions {
  queue: JobQueue;
  blobs: BlobStore;
  search: AuditSearch;
  history: ProjectHistory;
  /** PEP 792 status of the audit's project (`projectStatus`); absent: not shown. */
  statusMarks?: ProjectStatusMarks;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
  /** Marks artifacts gc deleted, and answers 410 for them (retention/pruned-artifacts.ts). */
  pruned?: PrunedArtifacts;
}

/** Content type for an artifact: text for logs and structured text, bytes otherwise. */
export function artifactType(name: string): string {
  return /\.(log|txt|strace|xml|json|out|err|csv|py|cfg|toml|ini|md)$/i.test(name) || !/\.[^/]+$/.test(name)
    ? 'text/plain; charset=utf-8'
    : 'application/octet-stream';
}

/** CSP for the stored report page: no scripts, no fetches; only its own stylesheet (carrying `nonce`). */
export function reportPolicy(nonce: string): string {
  return `default-src 'none'; style-src 'nonce-${nonce}'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'`;
}

export async function auditRoutes(app: FastifyInstance, opts: AuditRoutesOptions): Promise<void> {
  const { queue, blobs } = opts;
  const read = { preHandler: opts.guard('read') as never };
  const write = { preHandler: opts.guard('write') as never };

  app.post('/api/v1/audits', write, async (req, reply) => {
    const b = checkSubmitByName(req.body);
    // One audit per file: the same file on the same backend returns its audit (200, reused) unless forced.
    const { audit, reused } = queue.submitOnce({
      source: { kind: 'index', project: b.project, version: b.version, ...(b.filename ? { filename: b.filename } : {}) },
      priority: b.priority,
      backend: b.backend,
    }, { force: b.force });
    return reply.code(reused ? 200 : 202).send({ ...audit, reused });
  });

  // Filters, paging and the whole queue's counts: see search/audit-filter.ts.
  app.get<{ Querystring: Record<string, unknown> }>('/api/v1/audits', read, async (req) => opts.search.page(checkAuditFilter(req.query)));

  app.get<{ Params: { id: string } }>('/api/v1/audits/:id', read, async (req, reply) => {
    const d = queue.detail(req.params.id);
    if (!d) return sendApiError(reply, 404, 'PYTI_JOB_NOT_FOUND', `no audit with id ${JSON.stringify(req.params.id.slice(0, 64))}`);
    // `history`: the previous release's audit and the previous audit of the same file (projects/project-history.ts).
    // `projectStatus`: the project's PEP 792 status, and whether it was quarantined after this audit.
    return { ...(opts.pruned ? opts.pruned.mark(d) : d), history: opts.history.linksOf(d.id), projectStatus: opts.statusMarks?.ofAudit(d) ?? null };
  });

  app.get<{ Params: { id: string } }>('/api/v1/audits/:id/report.json', read, async (req, reply) => {
    const json = queue.reportJson(req.params.id);
    if (json === null) return sendApiError(reply, 404, 'PYTI_JOB_NOT_FOUND', `audit ${req.params.id} has no report (yet)`);
    return reply.type('application/json; charset=utf-8').send(json);
  });

  app.get<{ Params: { id: string } }>('/api/v1/audits/:id/report.html', read, async (req, reply) => {
    const json = queue.reportJson(req.params.id);
    if (json === null) return sendApiError(reply, 404, 'PYTI_JOB_NOT_FOUND', `audit ${req.params.id} has no report (yet)`);
    const html = renderStoredReport(json, req.params.id);
    if (html === null) return sendApiError(reply, 500, 'PYTI_RPC_INVALID', `the stored report of audit ${req.params.id} cannot be rendered`);
    return reply.type('text/html; charset=utf-8').header('content-security-policy', reportPolicy(req.cspNonce))
      .send(html.replaceAll('<style>', `<style nonce="${req.cspNonce}">`));
  });

  const sendArtifact = async (id: string, name: string, reply: FastifyReply) => {
    const a = queue.artifact(id, name);
    if (a) opts.pruned?.require(id, name, a.sha256);
    const stream = a ? blobs.open(a.sha256) : null;
    if (!a || !stream) return sendApiError(reply, 404, 'PYTI_JOB_NOT_FOUND', `audit ${id} has no artifact ${JSON.stringify(name.slice(0, 200))}`);
    return reply.type(artifactType(name)).header('content-length', a.size).header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox").send(stream);
  };
  app.get<{ Params: { id: string; '*': string } }>('/api/v1/audits/:id/artifacts/*', read, async (req, reply) =>
    sendArtifact(req.params.id, req.params['*'], reply));
  app.get<{ Params: { id: string; '*': string } }>('/api/v1/audits/:id/raw/*', read, async (req, reply) =>
    sendArtifact(req.params.id, `raw/${req.params['*']}`, reply));

  app.post<{ Params: { id: string } }>('/api/v1/audits/:id/cancel', write, async (req) => queue.cancel(req.params.id));
}

/**
 * renderHtml of a stored report JSON text; null when the report does not render (a malformed report).
 * With the audit's `id`, evidence links the raw-line page and phases the trace viewer (`inFrame`: links target the top window).
 */
export function renderStoredReport(json: string, id?: string, inFrame = false): string | null {
  try {
    return renderHtml(JSON.parse(json) as AuditReport, id === undefined ? {} : masterReportLinks(id, inFrame));
  } catch {
    return null;
  }
}
