/**
 * Notifications, assembled for the master: webhooks and their delivery log, the outbox, the sender
 * (webhooks and e-mail), the Atom feeds and the routes. `onReportStored` runs inside the
 * transaction that stores a report (see notification-hook.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import type { Access } from '../http/user-auth.js';
import type { Clock } from '../queue/clock.js';
import type { ReportOutcome } from '../queue/job-queue.js';
import type { JobRow } from '../queue/job-rows.js';
import { DeliveryOutbox } from './delivery-outbox.js';
import { FeedQuery } from './feed-query.js';
import { feedRoutes } from './feed-routes.js';
import { queueNotifications } from './notification-hook.js';
import { NotificationSender, type NotificationSenderOptions } from './notification-sender.js';
import type { NotifyConfig } from './notify-config.js';
import { PreviousReleaseFinder } from './previous-release.js';
import { webhookRoutes } from './webhook-routes.js';
import { WebhookStore } from './webhook-store.js';

/** The sender's tunables (tests and benchmarks). */
export type NotificationOptions = Pick<NotificationSenderOptions, 'maxAttempts' | 'retryMs' | 'everyMs' | 'timeoutMs' | 'maxResponseBytes' | 'log'>;

export class Notifications {
  readonly webhooks: WebhookStore;
  readonly outbox: DeliveryOutbox;
  readonly sender: NotificationSender;
  private readonly previous: PreviousReleaseFinder;
  private readonly feeds: FeedQuery;
  private listenUrl = 'http://127.0.0.1';
  private readonly log: (line: string) => void;

  constructor(db: Db, private readonly config: NotifyConfig, private readonly clock: Clock, private readonly userToken: string, options: NotificationOptions = {}) {
    this.webhooks = new WebhookStore(db);
    this.outbox = new DeliveryOutbox(db);
    this.previous = new PreviousReleaseFinder(db);
    this.feeds = new FeedQuery(db);
    this.sender = new NotificationSender({ outbox: this.outbox, webhooks: this.webhooks, smtp: config.smtp, clock, ...options });
    this.log = options.log ?? ((line: string) => void process.stderr.write(`pyti master: ${line}\n`));
  }

  /** The base URL links point to: the configured public URL, or where the master listens. */
  get publicUrl(): string {
    return this.config.publicUrl ?? this.listenUrl;
  }

  /** Tells where the master listens (the links' base when no public URL is configured). */
  listening(url: string): void {
    this.listenUrl = url.replace(/\/+$/, '');
  }

  /**
   * Queues the report's notifications (inside the storing transaction); wakes the sender when some
   * were queued. A failure here is logged, never thrown: it must not undo storing the report.
   */
  onReportStored(job: JobRow, outcome: ReportOutcome): void {
    let n = 0;
    try {
      n = queueNotifications({ webhooks: this.webhooks, outbox: this.outbox, previous: this.previous, publicUrl: this.publicUrl, smtp: this.config.smtp }, job, outcome, this.clock.now());
    } catch (err) {
      this.log(`notifications of audit ${job.id} could not be queued: ${(err as Error)?.message ?? String(err)}`);
    }
    if (n > 0) this.sender.wake();
  }

  /** Registers the webhook API and the feeds. */
  async routes(app: FastifyInstance, guard: (access: Access) => (req: never, reply: never) => Promise<void>): Promise<void> {
    const now = () => this.clock.now();
    await webhookRoutes(app, { webhooks: this.webhooks, outbox: this.outbox, now, guard });
    await feedRoutes(app, { feeds: this.feeds, userToken: this.userToken, publicUrl: () => this.publicUrl, now, guard });
  }

  start(): void {
    this.sender.start();
  }

  close(): Promise<void> {
    return this.sender.close();
  }
}
