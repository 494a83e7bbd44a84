/** Admin routes (user token always): list slaves (with their activity: cluster/slave-activity.ts), drain one. */
import type { FastifyInstance } from 'fastify';
import type { TokenAuthority } from '../auth.js';
import type { SlaveActivity } from '../cluster/slave-activity.js';
import type { JobQueue } from '../queue/job-queue.js';
import { sendApiError } from './body.js';
import type { Access } from './user-auth.js';

export interface AdminRoutesOptions {
  queue: JobQueue;
  auth: TokenAuthority;
  activity: SlaveActivity;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
}

export async function adminRoutes(app: FastifyInstance, opts: AdminRoutesOptions): Promise<void> {
  const admin = { preHandler: opts.guard('admin') as never };
  app.get('/api/v1/slaves', admin, async () => ({ slaves: opts.activity.overview() }));
  app.post<{ Params: { name: string } }>('/api/v1/slaves/:name/drain', admin, async (req, reply) => {
    const { name } = req.params;
    if (!opts.auth.hasSlave(name) && !opts.queue.slaves().some((s) => s.name === name)) {
      return sendApiError(reply, 404, 'PYTI_JOB_NOT_FOUND', `no slave named ${JSON.stringify(name.slice(0, 64))}`);
    }
    opts.queue.drain(name);
    return opts.activity.one(name);
  });
}
