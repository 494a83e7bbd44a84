/**
 * The user API's subscription routes (see user-api.ts): list, create, read, change (pause, resume,
 * priority, backend, backlog) and remove subscriptions, a subscription's audits, and the feed status.
 * Errors: 400 PYTI_SUBSCRIPTION_INVALID (naming the field), 404 PYTI_SUBSCRIPTION_NOT_FOUND,
 * 409 PYTI_SUBSCRIPTION_EXISTS.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PytiError } from '@pyti/vm-agent';
import type { SubscriptionService } from '../subscriptions/subscription-service.js';
import { sendApiError } from './body.js';
import type { Access } from './user-auth.js';

export interface SubscriptionRoutesOptions {
  subscriptions: SubscriptionService;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
}

const STATUS: Record<string, number> = { PYTI_SUBSCRIPTION_NOT_FOUND: 404, PYTI_SUBSCRIPTION_EXISTS: 409, PYTI_SUBSCRIPTION_INVALID: 400 };

/** Runs `fn`, answering subscription errors with their status. */
async function answer<T>(reply: FastifyReply, fn: () => T): Promise<T | FastifyReply> {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PytiError && STATUS[err.code] !== undefined) return sendApiError(reply, STATUS[err.code]!, err.code, err.message);
    throw err;
  }
}

export async function subscriptionRoutes(app: FastifyInstance, opts: SubscriptionRoutesOptions): Promise<void> {
  const { subscriptions: subs } = opts;
  const read = { preHandler: opts.guard('read') as never };
  const write = { preHandler: opts.guard('write') as never };
  type Named = { Params: { name: string } };

  app.get('/api/v1/subscriptions', read, async () => ({ subscriptions: subs.list() }));
  app.post('/api/v1/subscriptions', write, async (req, reply) => answer(reply, () => reply.code(201).send(subs.create(req.body))));
  app.get<Named>('/api/v1/subscriptions/:name', read, async (req, reply) => answer(reply, () => subs.get(req.params.name)));
  app.patch<Named>('/api/v1/subscriptions/:name', write, async (req, reply) => answer(reply, () => subs.update(req.params.name, req.body)));
  app.delete<Named>('/api/v1/subscriptions/:name', write, async (req, reply) => answer(reply, () => subs.remove(req.params.name)));
  app.get<Named & { Querystring: { limit?: string } }>('/api/v1/subscriptions/:name/audits', read, async (req, reply) => answer(reply, () => {
    const q = req.query.limit;
    const limit = q === undefined || q === '' ? 50 : /^\d{1,4}$/.test(q) && Number(q) >= 1 && Number(q) <= 1000 ? Number(q) : NaN;
    if (Number.isNaN(limit)) throw new PytiError('PYTI_SUBSCRIPTION_INVALID', 'limit: must be an integer in 1..1000');
    return { audits: subs.audits(req.params.name, limit) };
  }));
  app.get('/api/v1/feed', read, async () => subs.feedStatus());
  app.get('/api/v1/feed/quarantine', read, async () => subs.quarantined(200));
}
