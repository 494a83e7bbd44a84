/**
 * The user API's webhooks (writes need the user token in the header):
 * `POST /api/v1/webhooks {url, secret?, subscription?, events?}` (201; the answer carries the secret,
 * shown only then), `GET /api/v1/webhooks`, `GET /api/v1/webhooks/<id>`, `DELETE /api/v1/webhooks/<id>`,
 * and `GET /api/v1/webhooks/<id>/deliveries?limit=N` (the delivery log, newest first; also readable
 * after the webhook is removed). Errors: 400 PYTI_WEBHOOK_INVALID naming the field, 404 PYTI_WEBHOOK_NOT_FOUND.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendApiError } from '../http/body.js';
import type { Access } from '../http/user-auth.js';
import type { DeliveryOutbox } from './delivery-outbox.js';
import { WebhookNotFoundError, type WebhookStore } from './webhook-store.js';

export interface WebhookRoutesOptions {
  webhooks: WebhookStore;
  outbox: DeliveryOutbox;
  now: () => number;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
}

export async function webhookRoutes(app: FastifyInstance, o: WebhookRoutesOptions): Promise<void> {
  // Webhook URLs are the user's configuration: listing them needs the user token too, even with public read.
  const write = { preHandler: o.guard('write') as never };
  type ById = { Params: { id: string } };
  /** Runs `fn`, answering an unknown webhook with 404. */
  const answer = <T>(reply: FastifyReply, fn: () => T): T | FastifyReply => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof WebhookNotFoundError) return sendApiError(reply, 404, err.code, err.message);
      throw err;
    }
  };
  app.get('/api/v1/webhooks', write, async () => ({ webhooks: o.webhooks.list() }));
  app.post('/api/v1/webhooks', write, async (req, reply) => reply.code(201).send(o.webhooks.create(req.body, o.now())));
  app.get<ById>('/api/v1/webhooks/:id', write, async (req, reply) => answer(reply, () => o.webhooks.get(req.params.id)));
  app.delete<ById>('/api/v1/webhooks/:id', write, async (req, reply) => answer(reply, () => o.webhooks.remove(req.params.id)));
  app.get<ById & { Querystring: { limit?: string } }>('/api/v1/webhooks/:id/deliveries', write, async (req, reply) => {
    const q = req.query.limit;
    const limit = q === undefined || q === '' ? 100 : /^\d{1,4}$/.test(q) && Number(q) >= 1 && Number(q) <= 1000 ? Number(q) : NaN;
    if (Number.isNaN(limit)) return sendApiError(reply, 400, 'PYTI_WEBHOOK_INVALID', 'limit: must be an integer in 1..1000');
    return answer(reply, () => {
      const deliveries = o.outbox.ofTarget(req.params.id, limit);
      if (deliveries.length === 0) o.webhooks.get(req.params.id);
      return { webhook: req.params.id, deliveries };
    });
  });
}
