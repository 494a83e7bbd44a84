/**
 * The Atom feeds of finished audits (newest 50 each):
 * - `/feeds/audits.atom`: every audit; `/feeds/flagged.atom`: malicious and suspicious ones;
 * - `/feeds/projects/<name>.atom`: one project (PEP 503 normalized match);
 * - `/feeds/subscriptions/<name>.atom`: the audits one subscription submitted.
 * Auth: `?token=<feed token>` (see feed-token.ts; `GET /api/v1/feed-token` gives it), or what the
 * user API's reads take (Bearer user token, the pages' cookie, or nothing with public read).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendApiError } from '../http/body.js';
import type { Access } from '../http/user-auth.js';
import { renderAtom } from './atom-feed.js';
import type { FeedFilter, FeedQuery } from './feed-query.js';
import { feedToken, isFeedToken } from './feed-token.js';

export interface FeedRoutesOptions {
  feeds: FeedQuery;
  userToken: string;
  /** Base of the links (no trailing slash). */
  publicUrl: () => string;
  now: () => number;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export async function feedRoutes(app: FastifyInstance, o: FeedRoutesOptions): Promise<void> {
  const read = o.guard('read');
  const write = o.guard('write');
  const feedAuth = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = (req.query as Record<string, unknown>).token;
    if (token === undefined) return read(req as never, reply as never);
    if (!isFeedToken(o.userToken, token)) return sendApiError(reply, 401, 'PYTI_AUTH', 'wrong feed token (GET /api/v1/feed-token with the user token gives it)');
  };
  const send = (reply: FastifyReply, path: string, title: string, htmlPath: string, filter: FeedFilter) => {
    const base = o.publicUrl();
    return reply.type('application/atom+xml; charset=utf-8').header('x-content-type-options', 'nosniff').send(renderAtom({
      selfUrl: `${base}${path}`, htmlUrl: `${base}${htmlPath}`, title, publicUrl: base, audits: o.feeds.audits(filter), now: o.now(),
    }));
  };
  /** `<name>.atom` → name, or null. */
  const nameOf = (file: string): string | null => (file.endsWith('.atom') && NAME.test(file.slice(0, -5)) ? file.slice(0, -5) : null);

  app.get('/feeds/audits.atom', { preHandler: feedAuth }, async (_req, reply) => send(reply, '/feeds/audits.atom', 'PyTI: all audits', '/', { kind: 'all' }));
  app.get('/feeds/flagged.atom', { preHandler: feedAuth }, async (_req, reply) =>
    send(reply, '/feeds/flagged.atom', 'PyTI: flagged audits (malicious or suspicious)', '/', { kind: 'flagged' }));
  app.get<{ Params: { file: string } }>('/feeds/projects/:file', { preHandler: feedAuth }, async (req, reply) => {
    const name = nameOf(req.params.file);
    if (name === null) return sendApiError(reply, 404, 'PYTI_USAGE', 'a project feed is /feeds/projects/<project name>.atom');
    return send(reply, `/feeds/projects/${encodeURIComponent(name)}.atom`, `PyTI: audits of ${name}`, `/projects/${encodeURIComponent(name)}`, { kind: 'project', name });
  });
  app.get<{ Params: { file: string } }>('/feeds/subscriptions/:file', { preHandler: feedAuth }, async (req, reply) => {
    const name = nameOf(req.params.file);
    const id = name === null ? null : o.feeds.subscriptionId(name);
    if (id === null) return sendApiError(reply, 404, 'PYTI_SUBSCRIPTION_NOT_FOUND', `no subscription named ${JSON.stringify(req.params.file.replace(/\.atom$/, '').slice(0, 64))}`);
    return send(reply, `/feeds/subscriptions/${encodeURIComponent(name!)}.atom`, `PyTI: audits of subscription ${name}`, `/subscriptions/${encodeURIComponent(name!)}`, { kind: 'subscription', id });
  });
  // The token itself needs the user token in the header (a cookie could be ridden by another site).
  app.get('/api/v1/feed-token', { preHandler: write as never }, async () => {
    const t = feedToken(o.userToken);
    const base = o.publicUrl();
    const q = `?token=${t}`;
    return {
      token: t,
      feeds: {
        audits: `${base}/feeds/audits.atom${q}`,
        flagged: `${base}/feeds/flagged.atom${q}`,
        project: `${base}/feeds/projects/{name}.atom${q}`,
        subscription: `${base}/feeds/subscriptions/{name}.atom${q}`,
      },
    };
  });
}
