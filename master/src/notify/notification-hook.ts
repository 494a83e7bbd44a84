/**
 * What the master does for notifications when a report is stored: it decides the events (every
 * report is `completed`; a malicious or suspicious verdict is `flagged`; a regression against the
 * previous release is `regression`) and writes one delivery per matching webhook and per mailed
 * event into the outbox, inside the transaction that stores the report (so a restart loses none).
 * The verdict is the master's (re-judged), not the slave's.
 */
import type { JobRow } from '../queue/job-rows.js';
import type { ReportOutcome } from '../queue/job-queue.js';
import type { DeliveryOutbox } from './delivery-outbox.js';
import type { SmtpConfig } from './notify-config.js';
import type { NotifyEvent } from './notify-events.js';
import type { PreviousReleaseFinder } from './previous-release.js';
import { regressionOf, type RegressionView } from './regression.js';
import type { WebhookStore } from './webhook-store.js';

/** The JSON body of a notification (webhook body as sent; the e-mail is written from it). */
export interface NotificationBody {
  event: NotifyEvent;
  audit: {
    id: string; project: string; version: string; filename: string | null;
    verdict: string; score: number; result: string; findings: number;
    /** The audit's page on the master. */
    url: string;
  };
  /** For `regression` (and on every event when a previous release was audited): that audit and what regressed. */
  previous?: { id: string; version: string; url: string; regressed: boolean; reasons: string[] };
  occurredAt: string;
}

export interface NotificationHookDeps {
  webhooks: WebhookStore;
  outbox: DeliveryOutbox;
  previous: PreviousReleaseFinder;
  /** Base of the links (no trailing slash). */
  publicUrl: string;
  smtp: SmtpConfig | null;
}

function parse(json: string): RegressionView {
  try {
    const v = JSON.parse(json) as unknown;
    return typeof v === 'object' && v !== null ? (v as RegressionView) : {};
  } catch {
    return {};
  }
}

/** Queues the notifications of a stored report; returns how many deliveries were queued. */
export function queueNotifications(deps: NotificationHookDeps, job: JobRow, outcome: ReportOutcome, now: number): number {
  const auditUrl = (id: string): string => `${deps.publicUrl}/audits/${encodeURIComponent(id)}`;
  const events: NotifyEvent[] = ['completed'];
  if (outcome.verdict === 'malicious' || outcome.verdict === 'suspicious') events.push('flagged');
  const prev = deps.previous.find(job.project, job.version, job.seq);
  let previous: NotificationBody['previous'];
  if (prev) {
    const r = regressionOf(parse(prev.reportJson), { verdict: outcome.verdict, result: outcome.result, findings: parse(outcome.reportJson).findings });
    previous = { id: prev.id, version: prev.version, url: auditUrl(prev.id), regressed: r.regressed, reasons: r.reasons };
    if (r.regressed) events.push('regression');
  }
  let queued = 0;
  for (const event of events) {
    const body: NotificationBody = {
      event,
      audit: {
        id: job.id, project: job.project, version: job.version, filename: job.filename,
        verdict: outcome.verdict, score: outcome.score, result: outcome.result, findings: outcome.findings, url: auditUrl(job.id),
      },
      ...(previous ? { previous } : {}),
      occurredAt: new Date(now).toISOString(),
    };
    const text = JSON.stringify(body);
    for (const w of deps.webhooks.targetsFor(job.id, event)) if (deps.outbox.enqueue('webhook', w.id, job.seq, event, text, now)) queued++;
    if (deps.smtp?.events.includes(event) && deps.outbox.enqueue('email', 'smtp', job.seq, event, text, now)) queued++;
  }
  return queued;
}
