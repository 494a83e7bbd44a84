/**
 * The trace viewer's routes (read access):
 * - `GET /api/v1/audits/:id/trace?phase=&kind=files|processes|network&owner=package|tooling|all&q=&offset=&limit=`:
 *   one page of one phase's rows as JSON (TraceAnswer: totals by owner, matched, rows);
 * - `GET /audits/:id/trace?…`: the same as an HTML page with tabs, search, paging and the process tree;
 * - `GET /audits/:id/raw/<file>?line=N&context=C`: lines around line N of a raw artifact, escaped, line N highlighted.
 * Raw data is untrusted: the excerpt page escapes every line and caps its length; the page carries
 * `x-content-type-options: nosniff`.
 */
import type { FastifyInstance } from 'fastify';
import type { TraceKind } from '@pyti/common';
import { PytiError } from '@pyti/vm-agent';
import type { BlobStore } from '../blobs/blob-store.js';
import type { JobQueue } from '../queue/job-queue.js';
import { readExcerpt } from '../trace/raw-excerpt.js';
import { TraceViewer } from '../trace/trace-viewer.js';
import { renderRawExcerptPage } from '../web/raw-excerpt-page.js';
import { renderTracePage, type TracePageInput } from '../web/trace-page.js';
import { checkExcerptQuery, checkRawName, checkTraceQuery } from './trace-query.js';
import type { Access } from './user-auth.js';
import type { PrunedArtifacts } from '../retention/pruned-artifacts.js';

export interface TraceRoutesOptions {
  queue: JobQueue;
  blobs: BlobStore;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
  /** Answers 410 PYTI_RAW_PRUNED for raw data gc deleted. */
  pruned?: PrunedArtifacts;
}

type Query = { Params: { id: string }; Querystring: Record<string, string | undefined> };

export async function traceRoutes(app: FastifyInstance, opts: TraceRoutesOptions): Promise<void> {
  const { queue, blobs } = opts;
  const viewer = new TraceViewer(queue, blobs, opts.pruned);
  const read = { preHandler: opts.guard('read') as never };
  const title = (id: string): string => {
    const d = queue.detail(id);
    if (!d) throw new PytiError('PYTI_JOB_NOT_FOUND', `no audit with id ${JSON.stringify(id.slice(0, 64))}`);
    return `${d.project} ${d.version}`;
  };

  app.get<Query>('/api/v1/audits/:id/trace', read, async (req) => {
    title(req.params.id);
    const { phase, query } = checkTraceQuery(req.query);
    return await viewer.query(req.params.id, phase, query);
  });

  app.get<Query>('/audits/:id/trace', read, async (req, reply) => {
    const id = req.params.id;
    const t = title(id);
    const { phase, query } = checkTraceQuery(req.query);
    const answer = await viewer.query(id, phase, query);
    const totals = async (kind: TraceKind) => (await viewer.query(id, answer.phase, { kind, offset: 0, limit: 1 })).totals;
    const input: TracePageInput = {
      id, title: t, answer, query,
      kindTotals: { files: await totals('files'), processes: await totals('processes'), network: await totals('network') },
      ...(query.kind === 'processes' ? { tree: await viewer.indexOf(id, answer.phase) } : {}),
    };
    return reply.type('text/html; charset=utf-8').header('x-content-type-options', 'nosniff').send(renderTracePage(input));
  });

  app.get<{ Params: { id: string; '*': string }; Querystring: Record<string, string | undefined> }>('/audits/:id/raw/*', read, async (req, reply) => {
    const id = req.params.id;
    const t = title(id);
    const file = checkRawName(req.params['*']);
    const { line, context } = checkExcerptQuery(req.query);
    const a = queue.artifact(id, file);
    if (a) opts.pruned?.require(id, file, a.sha256);
    if (!a || !blobs.has(a.sha256)) throw new PytiError('PYTI_JOB_NOT_FOUND', `audit ${id} has no artifact ${JSON.stringify(file.slice(0, 200))}`);
    const excerpt = await readExcerpt(blobs.pathOf(a.sha256), line, context);
    return reply.type('text/html; charset=utf-8').header('x-content-type-options', 'nosniff')
      .send(renderRawExcerptPage({ id, title: t, file, context, excerpt }));
  });
}
