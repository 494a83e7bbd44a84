/**
 * PEP 792 project status as the master read it from the index:
 *   GET /api/v1/project-status → { projects: ProjectStatusEntry[] } every project whose status is not
 *   active (archived, quarantined, deprecated), most recent change first, each with the audits that
 *   finished before the change and their verdicts (a quarantined project audited `clean` is a miss).
 */
import type { FastifyInstance } from 'fastify';
import type { ProjectStatusMarks } from '../projects/project-status-marks.js';
import type { Access } from './user-auth.js';

export interface ProjectStatusRoutesOptions {
  marks: ProjectStatusMarks;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
}

export async function projectStatusRoutes(app: FastifyInstance, opts: ProjectStatusRoutesOptions): Promise<void> {
  app.get('/api/v1/project-status', { preHandler: opts.guard('read') as never }, async () => ({ projects: opts.marks.list(200) }));
}
