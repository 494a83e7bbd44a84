/**
 * Webhooks (the `webhooks` table): a URL the master POSTs notifications to, for every audit (global)
 * or only for the audits one subscription submitted, on the events it names, signed with its own
 * secret. Only a user with the user token may add one.
 *
 * Security: the URL is the user's choice, so the master will send requests to any http(s) address
 * (loopback and private networks included) — whoever holds the user token already controls the
 * master. Only http and https are accepted, without credentials in the URL; the sender follows no
 * redirect, times out and reads at most a few KiB of the answer (see webhook-sender.ts).
 */
import { randomBytes } from 'node:crypto';
import { PytiError } from '@pyti/vm-agent';
import type { Db } from '../db/database.js';
import { NOTIFY_EVENTS, type NotifyEvent } from './notify-events.js';

/** A webhook as the user API shows it (never with its secret). */
export interface WebhookSummary {
  id: string;
  url: string;
  /** The subscription it is limited to; null: every audit. */
  subscription: string | null;
  events: NotifyEvent[];
  createdAt: string;
}

/** The answer to creating a webhook: the only time the secret is shown. */
export interface WebhookCreated extends WebhookSummary {
  secret: string;
}

interface WebhookRow {
  id: string;
  url: string;
  secret: string;
  subscription_id: number | null;
  subscription: string | null;
  events: string;
  created_at: number;
}

/** The webhook id in a route is unknown. */
export class WebhookNotFoundError extends PytiError {
  constructor(id: string) {
    super('PYTI_WEBHOOK_NOT_FOUND', `no webhook with id ${JSON.stringify(id.slice(0, 64))}`);
  }
}

const invalid = (field: string, why: string): never => {
  throw new PytiError('PYTI_WEBHOOK_INVALID', `${field}: ${why}`);
};

/** Checks a webhook URL: absolute http(s), no credentials, at most 2000 characters. Throws PYTI_WEBHOOK_INVALID. */
export function checkWebhookUrl(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 2000) invalid('url', 'must be a string of 1-2000 characters');
  let u: URL;
  try {
    u = new URL(v as string);
  } catch {
    return invalid('url', `${JSON.stringify((v as string).slice(0, 100))} is not an absolute URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') invalid('url', `must be http or https, not ${u.protocol.replace(/:$/, '')}`);
  if (u.username || u.password) invalid('url', 'must not carry credentials (the body is signed with the secret instead)');
  return u.href;
}

const SECRET = /^[\x21-\x7e]{16,256}$/;
const WEBHOOK_ID = /^wh[A-Za-z0-9_-]{8,32}$/;

export class WebhookStore {
  private readonly st;

  constructor(private readonly db: Db) {
    const select = `SELECT w.*, s.name AS subscription FROM webhooks w LEFT JOIN subscriptions s ON s.id = w.subscription_id`;
    this.st = {
      insert: db.prepare(`INSERT INTO webhooks (id, url, secret, subscription_id, events, created_at) VALUES (@id, @url, @secret, @sub, @events, @now)`),
      byId: db.prepare(`${select} WHERE w.id = ?`),
      all: db.prepare(`${select} ORDER BY w.created_at, w.id`),
      remove: db.prepare('DELETE FROM webhooks WHERE id = ?'),
      subscription: db.prepare('SELECT id FROM subscriptions WHERE name = ?'),
      targetsOf: db.prepare(`SELECT w.id, w.url, w.secret, w.events FROM webhooks w
        WHERE w.subscription_id IS NULL OR w.subscription_id IN (SELECT sj.subscription_id FROM subscription_jobs sj WHERE sj.job_id = ?)
        ORDER BY w.created_at, w.id`),
    };
  }

  /** Adds a webhook from an API body `{url, secret?, subscription?, events?}`; throws PYTI_WEBHOOK_INVALID. */
  create(body: unknown, now: number): WebhookCreated {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid('body', 'must be a JSON object');
    const b = body as Record<string, unknown>;
    const unknown = Object.keys(b).filter((k) => !['url', 'secret', 'subscription', 'events'].includes(k));
    if (unknown.length) invalid(unknown[0]!.slice(0, 40), 'is not a webhook field (url, secret, subscription, events)');
    const url = checkWebhookUrl(b.url);
    let secret: string;
    if (b.secret === undefined) secret = randomBytes(32).toString('hex');
    else if (typeof b.secret !== 'string' || !SECRET.test(b.secret)) return invalid('secret', 'must be 16-256 printable characters without spaces');
    else secret = b.secret;
    let sub: number | null = null;
    if (b.subscription !== undefined && b.subscription !== null) {
      if (typeof b.subscription !== 'string') invalid('subscription', 'must be a subscription name');
      const r = this.st.subscription.get(b.subscription) as { id: number } | undefined;
      if (!r) invalid('subscription', `no subscription named ${JSON.stringify((b.subscription as string).slice(0, 64))}`);
      sub = r!.id;
    }
    let events: NotifyEvent[] = [...NOTIFY_EVENTS];
    if (b.events !== undefined) {
      if (!Array.isArray(b.events) || b.events.length === 0 || b.events.some((e) => !(NOTIFY_EVENTS as readonly unknown[]).includes(e))) {
        invalid('events', `must be a non-empty list of ${NOTIFY_EVENTS.join(', ')}`);
      }
      events = NOTIFY_EVENTS.filter((e) => (b.events as unknown[]).includes(e));
    }
    const id = `wh${randomBytes(9).toString('base64url')}`;
    this.st.insert.run({ id, url, secret, sub, events: JSON.stringify(events), now });
    return { ...this.get(id), secret };
  }

  /** One webhook; throws WebhookNotFoundError. */
  get(id: string): WebhookSummary {
    const r = WEBHOOK_ID.test(id) ? (this.st.byId.get(id) as WebhookRow | undefined) : undefined;
    if (!r) throw new WebhookNotFoundError(id);
    return summary(r);
  }

  list(): WebhookSummary[] {
    return (this.st.all.all() as WebhookRow[]).map(summary);
  }

  /** Removes a webhook (its delivery log stays); throws WebhookNotFoundError. */
  remove(id: string): WebhookSummary {
    const w = this.get(id);
    this.st.remove.run(id);
    return w;
  }

  /** The webhooks that take `event` for the audit `jobId` (global ones, and those of a subscription that submitted it). */
  targetsFor(jobId: string, event: NotifyEvent): { id: string; url: string; secret: string }[] {
    return (this.st.targetsOf.all(jobId) as { id: string; url: string; secret: string; events: string }[])
      .filter((w) => (JSON.parse(w.events) as string[]).includes(event))
      .map(({ id, url, secret }) => ({ id, url, secret }));
  }

  /** The URL and secret of one webhook, or null when it was removed. */
  endpoint(id: string): { url: string; secret: string } | null {
    const r = this.st.byId.get(id) as WebhookRow | undefined;
    return r ? { url: r.url, secret: r.secret } : null;
  }
}

function summary(r: WebhookRow): WebhookSummary {
  return { id: r.id, url: r.url, subscription: r.subscription, events: JSON.parse(r.events) as NotifyEvent[], createdAt: new Date(r.created_at).toISOString() };
}
