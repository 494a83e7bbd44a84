/**
 * `GET /healthz`: `{ ok: true }` for anyone (load balancers, monitors); with a valid user or slave
 * token (`Authorization: Bearer`) also the queue's counts by state, which say how busy the master is.
 */
import type { FastifyInstance } from 'fastify';
import { bearerToken, type TokenAuthority } from '../auth.js';
import type { JobQueue } from '../queue/job-queue.js';

export async function healthRoute(app: FastifyInstance, opts: { auth: TokenAuthority; queue: JobQueue }): Promise<void> {
  app.get('/healthz', async (req) => {
    const token = bearerToken(req.headers.authorization);
    if (!opts.auth.isUser(token) && opts.auth.slaveFor(token) === null) return { ok: true };
    return { ok: true, counts: opts.queue.counts() };
  });
}
