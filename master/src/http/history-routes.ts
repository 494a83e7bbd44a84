/**
 * Project history and release diffs:
 *
 *   GET /projects/:name                 HTML: the project's releases and audits (name PEP 503 normalized; other spellings redirect)
 *   GET /projects/:name/diff?from=A&to=B  HTML: what changed between two audits (ids, or versions of the project)
 *   GET /api/v1/projects/:name          → ProjectHistoryBody
 *   GET /api/v1/diff?from=ID&to=ID      → AuditDiff; or ?project=NAME&from=VERSION&to=VERSION
 *
 * Errors are the user API's: 400 PYTI_USAGE (a bad name, missing from/to), 404 PYTI_JOB_NOT_FOUND (no such
 * project, audit or audited version), 409 PYTI_REPORT_NOT_READY (an audit without a report).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PytiError } from '@pyti/vm-agent';
import type { TokenAuthority } from '../auth.js';
import { projectKey } from '../db/migration-project-key.js';
import { diffErrorStatus, diffRequest, type DiffRequest } from '../diff/diff-request.js';
import type { AuditDiff } from '../diff/audit-diff-types.js';
import type { ProjectHistory, ProjectMetadata } from '../projects/project-history.js';
import { projectStatusPagePanel, type ProjectStatusMarks, type ProjectStatusSummary } from '../projects/project-status-marks.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { AuditSummary } from '../user-api.js';
import { renderDiffPage } from '../web/diff-page.js';
import { releaseGroups, renderProjectPage } from '../web/project-page.js';
import { sendApiError } from './body.js';
import { pageLogin } from './page-routes.js';
import { BadRequestError } from './request-checks.js';
import type { Access } from './user-auth.js';

export interface HistoryRoutesOptions {
  queue: JobQueue;
  history: ProjectHistory;
  auth: TokenAuthority;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
  /** PEP 792 status of the project (`status` in the JSON, a panel on the page); absent: not shown. */
  statusMarks?: ProjectStatusMarks;
}

/** `GET /api/v1/projects/:name`: the project, its releases newest first, each with its audits (newest first). */
export interface ProjectHistoryBody {
  /** PEP 503 normalized name. */
  project: string;
  /** From the newest stored report (null before any audit is done). */
  metadata: ProjectMetadata | null;
  /** Audits of the project in all (`releases` holds at most MAX_PROJECT_AUDITS of them). */
  total: number;
  /** PEP 792 status when the index marks the project other than active (null otherwise). */
  status?: ProjectStatusSummary | null;
  releases: {
    version: string;
    audits: AuditSummary[];
    /** The newest done audit of the release before, and the diff link between the two newest done audits. */
    previous: { version: string; auditId: string } | null;
    diff: string | null;
  }[];
}

const PROJECT = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$/;

function checkProject(name: string): string {
  if (!PROJECT.test(name)) throw new BadRequestError('project', 'must be a project name (letters, digits, . _ -)');
  return projectKey(name);
}

function checkDiffQuery(q: Record<string, unknown>, project?: string): DiffRequest {
  const one = (k: string): string => {
    const v = q[k];
    if (typeof v !== 'string' || v === '') throw new BadRequestError(k, 'is required: an audit id (or, with project, a version)');
    if (v.length > 128) throw new BadRequestError(k, 'is too long');
    return v;
  };
  const p = project ?? (typeof q.project === 'string' && q.project !== '' ? checkProject(q.project) : undefined);
  return { from: one('from'), to: one('to'), ...(p ? { project: p } : {}) };
}

export async function historyRoutes(app: FastifyInstance, opts: HistoryRoutesOptions): Promise<void> {
  const { queue, history } = opts;
  const read = { preHandler: opts.guard('read') as never };
  const login = { preHandler: pageLogin(opts) };

  const projectBody = (key: string): ProjectHistoryBody | null => {
    const { audits, total } = history.audits(key);
    if (!total) return null;
    return {
      project: key, metadata: history.metadata(key), total, status: opts.statusMarks?.ofProject(key) ?? null,
      releases: releaseGroups(audits).map((g) => ({
        version: g.version, audits: g.audits,
        previous: g.previousDone && g.previousVersion ? { version: g.previousVersion, auditId: g.previousDone.id } : null,
        diff: g.previousDone && g.latestDone ? `/api/v1/diff?from=${encodeURIComponent(g.previousDone.id)}&to=${encodeURIComponent(g.latestDone.id)}` : null,
      })),
    };
  };

  const diffOr = (reply: FastifyReply, req: DiffRequest): AuditDiff | FastifyReply => {
    try {
      return diffRequest(queue, history, req);
    } catch (err) {
      if (err instanceof PytiError && err.code !== 'PYTI_USAGE') return sendApiError(reply, diffErrorStatus(err), err.code, err.message);
      throw err;
    }
  };

  app.get<{ Params: { name: string } }>('/api/v1/projects/:name', read, async (req, reply) => {
    const key = checkProject(req.params.name);
    return projectBody(key) ?? sendApiError(reply, 404, 'PYTI_JOB_NOT_FOUND', `no audits of project ${key}`);
  });

  app.get<{ Querystring: Record<string, unknown> }>('/api/v1/diff', read, async (req, reply) => diffOr(reply, checkDiffQuery(req.query)));

  app.get<{ Params: { name: string } }>('/projects/:name', login, async (req, reply) => {
    const key = checkProject(req.params.name);
    if (key !== req.params.name) return reply.redirect(`/projects/${encodeURIComponent(key)}`, 301);
    const { audits, total } = history.audits(key);
    const panel = projectStatusPagePanel(opts.statusMarks?.ofProject(key) ?? null);
    return reply.code(total ? 200 : 404).type('text/html; charset=utf-8').send(renderProjectPage(key, history.metadata(key), audits, total, panel));
  });

  app.get<{ Params: { name: string }; Querystring: Record<string, unknown> }>('/projects/:name/diff', login, async (req, reply) => {
    const key = checkProject(req.params.name);
    const d = diffOr(reply, checkDiffQuery(req.query, key));
    if (d === reply) return d;
    return reply.type('text/html; charset=utf-8').send(renderDiffPage(key, d as AuditDiff));
  });
}
