/** Admin routes (user token always): list slaves, drain one. */
import type { FastifyInstance } from 'fastify';
import type { TokenAuthority } from '../auth.js';
import type { JobQueue } from '../queue/job-queue.js';
import { sendApiError } from './body.js';
import type { Access } from './user-auth.js';

export interface AdminRoutesOptions {
  queue: JobQueue;
  auth: TokenAuthority;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
}

export async function adminRoutes(app: FastifyInstance, opts: AdminRoutesOptions): Promise<void> {
  const admin = { preHandler: opts.guard('admin') as never };
  app.get('/api/v1/slaves', admin, async () => ({ slaves: opts.queue.slaves() }));
  app.post<{ Params: { name: string } }>('/api/v1/slaves/:name/drain', admin, async (req, reply) => {
    const { name } = req.params;
    if (!opts.auth.hasSlave(name) && !opts.queue.slaves().some((s) => s.name === name)) {
      return sendApiError(reply, 404, 'PYTI_JOB_NOT_FOUND', `no slave named ${JSON.stringify(name.slice(0, 64))}`);
    }
    return opts.queue.drain(name);
  });
}
