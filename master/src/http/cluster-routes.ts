/**
 * The cluster's pages and their JSON twins:
 *
 *   GET  /slaves                          page (user token: header or the pages' cookie; even with public read)
 *   POST /slaves/:name/drain              the page's form: drain the slave, then 303 to /slaves
 *   POST /slaves/:name/undrain            the page's form: withdraw the drain request, then 303 to /slaves
 *   POST /api/v1/slaves/:name/undrain     (admin) → SlaveOverview     (GET /api/v1/slaves and POST …/drain: admin-routes.ts)
 *   GET  /stats, /api/v1/stats?limit=N    queue depth and upload-to-verdict latency over time
 *   GET  /subscriptions, /api/v1/cluster/subscriptions           each subscription with cursor, lag, backlog
 *   GET  /subscriptions/:name, /api/v1/cluster/subscriptions/:name?before=&limit=   one, with a page of its audits
 *
 * Security: the form routes need the user token and a same-origin request (same-origin.ts), answer
 * 401 PYTI_AUTH and 403 PYTI_CSRF otherwise (page-write-guard.ts, checked before the body is read). Pages are server-rendered with no scripts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PytiError } from '@pyti/vm-agent';
import type { TokenAuthority } from '../auth.js';
import type { QueueStats } from '../cluster/queue-stats.js';
import type { SlaveActivity } from '../cluster/slave-activity.js';
import type { SlavePools } from '../cluster/slave-pools.js';
import type { SubscriptionStatusReader } from '../cluster/subscription-status.js';
import type { JobQueue } from '../queue/job-queue.js';
import { renderSlavesPage } from '../web/slaves-page.js';
import { renderStatsPage } from '../web/stats-page.js';
import { renderSubscriptionPage, renderSubscriptionsPage } from '../web/subscriptions-page.js';
import { sendApiError } from './body.js';
import { BadRequestError } from './request-checks.js';
import { requirePageWrite } from './page-write-guard.js';
import { requireUser, type Access } from './user-auth.js';
import { pageLogin } from './page-routes.js';

export interface ClusterRoutesOptions {
  queue: JobQueue;
  auth: TokenAuthority;
  activity: SlaveActivity;
  /** Slaves' pools of ready VM guests, from their heartbeats. */
  pools?: SlavePools;
  stats: QueueStats;
  subscriptions: SubscriptionStatusReader;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
}

type Query = { Querystring: Record<string, string | undefined> };
type Named = { Params: { name: string } } & Query;

/** An integer query parameter in min..max, or undefined when absent. */
export function intParam(q: Record<string, string | undefined>, name: string, min: number, max: number): number | undefined {
  const v = q[name];
  if (v === undefined || v === '') return undefined;
  const n = /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) throw new BadRequestError(name, `must be an integer in ${min}..${max}`);
  return n;
}

const html = (reply: FastifyReply, body: string) => reply.type('text/html; charset=utf-8').send(body);

function subscriptionError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof PytiError && err.code === 'PYTI_SUBSCRIPTION_NOT_FOUND') return sendApiError(reply, 404, err.code, err.message);
  if (err instanceof PytiError && err.code === 'PYTI_SUBSCRIPTION_INVALID') return sendApiError(reply, 400, err.code, err.message);
  throw err;
}

export async function clusterRoutes(app: FastifyInstance, opts: ClusterRoutesOptions): Promise<void> {
  const read = opts.guard('read');
  const admin = { preHandler: opts.guard('admin') as never };
  const show = (name: string) => JSON.stringify(name.slice(0, 64));
  // Pages: `?token=…` is kept in the cookie, and a signed-out browser gets the login form (page-routes.ts).
  const readPage = pageLogin({ auth: opts.auth, guard: opts.guard });
  // /slaves (host names, the drain buttons) needs the user token even when reads are public.
  const userPage = pageLogin({ auth: opts.auth, guard: () => requireUser(opts.auth, false, 'read') as (req: never, reply: never) => Promise<void> });
  const knownSlave = (name: string) => opts.auth.hasSlave(name) || opts.activity.one(name) !== null;

  // ---- slaves ----
  app.get('/slaves', { preHandler: userPage }, async (_req, reply) => html(reply, renderSlavesPage(opts.activity.overview(), { nowMs: opts.queue.clock.now(), pools: opts.pools })));

  // The page's forms: an empty urlencoded body (the slave and the action are in the path).
  await app.register(async (forms) => {
    forms.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => done(null, body));
    for (const action of ['drain', 'undrain'] as const) {
      forms.post<{ Params: { name: string } }>(`/slaves/:name/${action}`, { onRequest: requirePageWrite(opts.auth) }, async (req, reply) => {
        const { name } = req.params;
        if (!knownSlave(name)) return sendApiError(reply, 404, 'PYTI_SLAVE_NOT_FOUND', `no slave named ${show(name)}`);
        if (action === 'drain') opts.queue.drain(name);
        else opts.activity.undrain(name);
        return reply.redirect('/slaves', 303);
      });
    }
  });

  app.post<{ Params: { name: string } }>('/api/v1/slaves/:name/undrain', admin, async (req, reply) => {
    const { name } = req.params;
    if (!knownSlave(name)) return sendApiError(reply, 404, 'PYTI_SLAVE_NOT_FOUND', `no slave named ${show(name)}`);
    opts.activity.undrain(name);
    return opts.activity.one(name) ?? { name, drainRequested: false };
  });

  // ---- stats ----
  app.get<Query>('/api/v1/stats', { preHandler: read as never }, async (req) => opts.stats.view(intParam(req.query, 'limit', 1, 20_160) ?? 120));
  app.get<Query>('/stats', { preHandler: readPage }, async (req, reply) => html(reply, renderStatsPage(opts.stats.view(intParam(req.query, 'limit', 1, 20_160) ?? 120))));

  // ---- subscriptions ----
  app.get('/api/v1/cluster/subscriptions', { preHandler: read as never }, async () => ({ subscriptions: opts.subscriptions.list() }));
  app.get('/subscriptions', { preHandler: readPage }, async (_req, reply) => html(reply, renderSubscriptionsPage(opts.subscriptions.list())));
  const page = (req: FastifyRequest<Named>) => ({ before: intParam(req.query, 'before', 1, Number.MAX_SAFE_INTEGER), limit: intParam(req.query, 'limit', 1, 500) ?? 50 });
  app.get<Named>('/api/v1/cluster/subscriptions/:name', { preHandler: read as never }, async (req, reply) => {
    const p = page(req);
    try {
      return { status: opts.subscriptions.one(req.params.name), ...opts.subscriptions.audits(req.params.name, p) };
    } catch (err) {
      return subscriptionError(reply, err);
    }
  });
  app.get<Named>('/subscriptions/:name', { preHandler: readPage }, async (req, reply) => {
    const p = page(req);
    try {
      const status = opts.subscriptions.one(req.params.name);
      return html(reply, renderSubscriptionPage(status, opts.subscriptions.audits(req.params.name, p), { nowMs: opts.queue.clock.now(), limit: p.limit === 50 ? undefined : p.limit }));
    } catch (err) {
      return subscriptionError(reply, err);
    }
  });
}
