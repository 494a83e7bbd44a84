/**
 * `GET /metrics`: the master's metrics in Prometheus' text format (cluster/master-metrics.ts), for a
 * scraper. Reading them is a read of the user API: the user token (`Authorization: Bearer`, which
 * Prometheus sends with `authorization: { credentials: … }`), or nothing with --public-read.
 */
import type { FastifyInstance } from 'fastify';
import type { MasterMetrics } from '../cluster/master-metrics.js';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from '../cluster/prometheus-text.js';
import type { Access } from './user-auth.js';

export interface MetricsRouteOptions {
  metrics: MasterMetrics;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
}

export async function metricsRoute(app: FastifyInstance, opts: MetricsRouteOptions): Promise<void> {
  app.get('/metrics', { preHandler: opts.guard('read') as never }, async (_req, reply) =>
    reply.type(PROMETHEUS_CONTENT_TYPE).header('cache-control', 'no-store').send(renderPrometheus(opts.metrics.collect())));
}
