/**
 * The master as one Fastify application: the command API for slaves (`/rpc/v1…`), the user API
 * (`/api/v1…`), the pages, over one database, blob store and queue in the data directory.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { PytiError } from '@pyti/vm-agent';
import { loadTokens, TokenAuthority } from '../auth.js';
import { BlobStore } from '../blobs/blob-store.js';
import { blobTempDir } from '../blobs/blob-dir.js';
import type { MasterConfig } from '../config.js';
import { openDatabase, type Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';
import { JobQueue } from '../queue/job-queue.js';
import { createCommandServer } from '../rpc/command-server.js';
import { rpcRoutes } from '../rpc/rpc-routes.js';
import { adminRoutes } from './admin-routes.js';
import { auditRoutes } from './audit-routes.js';
import { sendApiError, statusOf } from './body.js';
import { pageRoutes } from './page-routes.js';
import { historyRoutes } from './history-routes.js';
import { AuditSearch } from '../search/audit-search.js';
import { ProjectHistory } from '../projects/project-history.js';
import { GitPoller, type GitPollerOptions } from '../git/git-poller.js';
import { SubscriptionService, type SubscriptionServiceOptions } from '../subscriptions/subscription-service.js';
import { subscriptionRoutes } from './subscription-routes.js';
import { traceRoutes } from './trace-routes.js';
import { uploadRoute } from './upload-route.js';
import { ObservationStore } from '../observations/observation-store.js';
import { ObservationSender, type ObservationSenderOptions } from '../observations/observation-sender.js';
import { queueObservation } from '../observations/observation-hook.js';
import type { AuditObservation } from '../user-api.js';
import { requireUser, type Access } from './user-auth.js';
import { registerHostCheck } from './allowed-hosts.js';
import { registerApiWriteAuth } from './api-write-auth.js';
import { healthRoute } from './health-route.js';
import { httpLimits } from './http-limits.js';
import { loginRoutes } from './login-routes.js';
import { registerSecurityHeaders } from './security-headers.js';
import { Notifications, type NotificationOptions } from '../notify/notifications.js';
import { SlaveActivity } from '../cluster/slave-activity.js';
import { SlavePools } from '../cluster/slave-pools.js';
import { QueueStats, type QueueStatsOptions } from '../cluster/queue-stats.js';
import { SubscriptionStatusReader } from '../cluster/subscription-status.js';
import { clusterRoutes } from './cluster-routes.js';
import { isStorageFull, STORAGE_FULL_STATUS, storageFullError } from '../storage/storage-full.js';
import { submissionRoutes } from './submission-routes.js';
import { PrunedArtifacts } from '../retention/pruned-artifacts.js';
import { RetentionGc } from '../retention/retention-gc.js';
import { ProjectStatusMarks } from '../projects/project-status-marks.js';
import { projectStatusRoutes } from './project-status-routes.js';
import { MasterMetrics } from '../cluster/master-metrics.js';
import { metricsRoute } from './metrics-route.js';

export interface MasterApp {
  app: FastifyInstance;
  /** Base URL once listening. */
  url?: string;
  tokens: { user: string; slaves: Record<string, string> };
  /** Subscriptions to the index's uploads and to git repositories: the feed follower and the git poller. */
  subscriptions: SubscriptionService;
  /** The observations reported to the index, and their sender (null without an observations token). */
  observations: { store: ObservationStore; sender: ObservationSender | null };
  /** Webhooks, e-mail and feeds (see notify/notifications.ts). */
  notifications: Notifications;
  /** The queue samples behind `/stats` (tests take one with `stats.sample()`). */
  stats: QueueStats;
  /** The blob gc under the retention policy (periodic with --gc-interval; `pyti master gc`). */
  gc: RetentionGc;
  /** Starts listening on the configured host and port; resolves to the base URL. */
  listen(): Promise<string>;
  /** Stops taking requests, answers waiting long-polls, finishes in-flight requests, closes the database. */
  close(): Promise<void>;
}

/** Extras for tests and benchmarks. */
export interface MasterAppOptions {
  clock?: Clock;
  /** Fastify's logger (off by default). */
  logger?: boolean;
  /** Unexpected errors (default: written to stderr). */
  onError?: (err: unknown) => void;
  /** The queue's sweep interval (0: no timer; the sweep still runs on every lease call). */
  sweepIntervalMs?: number;
  /** Lines of the feed follower (default: stderr); replacements for its network readers and timers. */
  feeds?: Pick<SubscriptionServiceOptions, 'log' | 'changelog' | 'rss' | 'resolve' | 'timers' | 'simple' | 'backfillWindowMs'>;
  /** The git poller's lines (default: stderr), timers, commits per poll and git time limits. */
  git?: Pick<GitPollerOptions, 'log' | 'timers' | 'maxCommitsPerPoll' | 'fetchTimeoutMs' | 'gitTimeoutMs'>;
  /** The observation sender's retries, timer, lines and fetch. */
  observations?: Pick<ObservationSenderOptions, 'maxAttempts' | 'retryMs' | 'everyMs' | 'timeoutMs' | 'log' | 'fetch'>;
  /** The notification sender's retries, timer and lines. */
  notifications?: NotificationOptions;
  /** The queue samples of `/stats` (interval, retention; everyMs 0: no timer). */
  stats?: QueueStatsOptions;
}

/** The distribution file a stored report names (for jobs by name, whose file the slave picked). */
function reportFilename(json: string | null): string | null {
  if (json === null) return null;
  try {
    const f = (JSON.parse(json) as { distribution?: { filename?: unknown } }).distribution?.filename;
    return typeof f === 'string' ? f : null;
  } catch {
    return null;
  }
}

/** Database file inside the data directory. */
export const DB_FILE = 'master.db';

/** Builds the master on `config.dataDir` (creating tokens, database and blob store on first start). */
export async function buildMasterApp(config: MasterConfig, options: MasterAppOptions = {}): Promise<MasterApp> {
  const tokens = loadTokens(config);
  const auth = new TokenAuthority(tokens);
  const db: Db = openDatabase(config.database ?? join(config.dataDir, DB_FILE));
  const onError = options.onError ?? ((err: unknown) => process.stderr.write(`pyti master: internal error: ${(err as Error)?.stack ?? String(err)}\n`));
  // Temp files of blobs being written when a previous run died are garbage.
  const blobTmp = blobTempDir(config);
  rmSync(blobTmp, { recursive: true, force: true });
  const blobs = new BlobStore(config.blobDir, blobTmp);
  const observations = new ObservationStore(db);
  let sender: ObservationSender | null = null;
  let notifications: Notifications | null = null;
  const queue = new JobQueue(db, {
    leaseMs: config.leaseMs, maxWaitMs: config.maxWaitMs, maxAttempts: config.maxAttempts, maxInfraRetries: config.maxInfraRetries, defaultBackend: config.defaultBackend,
    clock: options.clock, sweepIntervalMs: options.sweepIntervalMs,
    onReportStored: (job, outcome) => {
      if (sender && queueObservation(observations, job, outcome, queue.clock.now())) sender.wake();
      notifications?.onReportStored(job, outcome);
    },
    observationOf: (job): AuditObservation | null => observations.ofFile(job.seq, job.project, job.version, job.filename ?? reportFilename(queue.reportJson(job.id))),
  });
  const log = (line: string): void => void process.stderr.write(`pyti master: ${line}\n`);
  if (config.observationsToken) {
    sender = new ObservationSender({ store: observations, indexUrl: config.indexUrl, token: config.observationsToken, clock: queue.clock, log, ...options.observations });
  }
  notifications = new Notifications(db, config.notify, queue.clock, tokens.user, { log, ...options.notifications });
  const pools = new SlavePools();
  const server = createCommandServer(queue, blobs, { leaseMs: config.leaseMs, heartbeatMs: config.heartbeatMs, maxWaitMs: config.maxWaitMs, onError, pools });

  const app = Fastify({ logger: options.logger ?? false, ...httpLimits(config) });
  registerHostCheck(app, config.allowedHosts);
  registerSecurityHeaders(app);
  registerApiWriteAuth(app, auth);
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (isStorageFull(err)) {
      const full = storageFullError(err, `${req.method} ${req.url.split('?')[0]}`);
      log(full.message);
      return sendApiError(reply, STORAGE_FULL_STATUS, full.code, full.message);
    }
    if (err instanceof PytiError) return sendApiError(reply, statusOf(err), err.code, err.message);
    if (typeof err.statusCode === 'number' && err.statusCode < 500) {
      return sendApiError(reply, err.statusCode, err.statusCode === 413 ? 'PYTI_INPUT_TOO_LARGE' : 'PYTI_USAGE', err.message);
    }
    onError(err);
    return sendApiError(reply, 500, 'PYTI_MASTER_INTERNAL', 'internal error (see the master\'s log)');
  });
  app.setNotFoundHandler((req, reply) => sendApiError(reply, 404, 'PYTI_USAGE', `no route ${req.method} ${req.url.split('?')[0]}`));
  const git = new GitPoller({
    db, queue, blobs, clock: queue.clock, mirrorsDir: join(config.dataDir, 'git'), everyMs: config.gitPollMs, maxArchiveBytes: config.maxUploadBytes,
    log, ...options.git,
  });
  const subscriptions = new SubscriptionService({
    db, queue, clock: queue.clock, indexUrl: config.indexUrl, follow: config.follow, pollMs: config.pollMs, rssPollMs: config.rssPollMs,
    fetchPolicy: config.fetchPolicy, feed: config.feed, simplePollMs: config.simplePollMs,
    log, git, ...options.feeds,
  });
  app.addHook('preClose', async () => subscriptions.close());
  app.addHook('preClose', async () => queue.close());
  app.addHook('preClose', async () => sender?.close());
  app.addHook('preClose', async () => notifications!.close());
  const activity = new SlaveActivity(db, queue.clock, config.leaseMs);
  const stats = new QueueStats(db, queue.clock, options.stats);
  app.addHook('preClose', async () => stats.stop());
  const gc = new RetentionGc({ db, blobs, policy: config.retention, now: () => queue.clock.now(), log });
  app.addHook('preClose', async () => gc.stop());
  const pruned = new PrunedArtifacts(db, blobs);
  app.addHook('onClose', async () => db.close());

  const guard = (access: Access) => requireUser(auth, config.publicRead, access) as (req: never, reply: never) => Promise<void>;
  await app.register(healthRoute, { auth, queue });
  await app.register(loginRoutes, { auth });
  await app.register(rpcRoutes, { auth, server, queue, blobs });
  await app.register(async (api) => {
    await uploadRoute(api, { queue, blobs, maxUploadBytes: config.maxUploadBytes, guard });
    const search = new AuditSearch(db);
    const history = new ProjectHistory(db);
    const statusMarks = new ProjectStatusMarks(db, subscriptions.statuses);
    await auditRoutes(api, { queue, blobs, search, history, guard, pruned, statusMarks });
    await adminRoutes(api, { queue, auth, activity, guard });
    await pageRoutes(api, { queue, auth, guard, search, history, pruned, statusMarks });
    await projectStatusRoutes(api, { marks: statusMarks, guard });
    await historyRoutes(api, { queue, history, auth, guard, statusMarks });
    await subscriptionRoutes(api, { subscriptions, guard });
    await notifications!.routes(api, guard);
    await traceRoutes(api, { queue, blobs, guard, pruned });
    await submissionRoutes(api, {
      db, queue, blobs, dataDir: config.dataDir, maxUploadBytes: config.maxUploadBytes, guard,
      fetchTimeoutMs: options.git?.fetchTimeoutMs, gitTimeoutMs: options.git?.gitTimeoutMs,
    });
    await metricsRoute(api, { metrics: new MasterMetrics(db, queue, config.leaseMs), guard });
    await clusterRoutes(api, { queue, auth, activity, pools, stats, subscriptions: new SubscriptionStatusReader(db, subscriptions, queue, queue.clock), guard });
  });
  await app.ready();
  queue.start();
  subscriptions.start();
  sender?.start();
  notifications.start();
  stats.start();
  gc.start();


  let closed: Promise<void> | null = null;
  const master: MasterApp = {
    app,
    tokens: { user: tokens.user, slaves: { ...tokens.slaves } },
    subscriptions,
    observations: { store: observations, sender },
    notifications,
    stats,
    gc,
    async listen() {
      const address = await app.listen({ host: config.host, port: config.port });
      master.url = address;
      notifications!.listening(address);
      return address;
    },
    close() {
      closed ??= app.close().then(() => undefined);
      return closed;
    },
  };
  return master;
}
