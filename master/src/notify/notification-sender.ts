/**
 * Sends the notification outbox: webhooks (POST of the JSON body, signed, see webhook-signature.ts)
 * and e-mail (through the configured SMTP server, see email-message.ts). A failed attempt is tried
 * again after a growing delay (`retryMs`, doubled each time) up to `maxAttempts`; a webhook answer
 * of 3xx (redirects are not followed) or a 4xx other than 408 and 429, and an SMTP 5xx, fail at once.
 *
 * Security (webhook targets are chosen by the user): only http(s) URLs are stored; each request
 * times out (`timeoutMs`), follows no redirect, and at most `maxResponseBytes` of the answer are
 * read (then the connection is dropped); only the first 300 characters are kept in the log.
 */
import { createTransport, type Transporter } from 'nodemailer';
import type { Clock } from '../queue/clock.js';
import type { DeliveryOutbox, DeliveryRow } from './delivery-outbox.js';
import { emailFor } from './email-message.js';
import type { NotificationBody } from './notification-hook.js';
import type { SmtpConfig } from './notify-config.js';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signBody } from './webhook-signature.js';
import type { WebhookStore } from './webhook-store.js';
import { OutboxPump } from '../queue/outbox-pump.js';

export interface NotificationSenderOptions {
  outbox: DeliveryOutbox;
  webhooks: WebhookStore;
  smtp: SmtpConfig | null;
  clock: Clock;
  /** Attempts per delivery (default 6). */
  maxAttempts?: number;
  /** Delay before the second attempt (default 30 s), doubled each time. */
  retryMs?: number;
  /** Between looks at the outbox when idle (default 5 s); 0: no timer (tests call sendDue). */
  everyMs?: number;
  /** Per webhook request and per SMTP stage (default 10 s). */
  timeoutMs?: number;
  /** Largest part of a webhook's answer read (default 4 KiB). */
  maxResponseBytes?: number;
  log?: (line: string) => void;
}

/** What one attempt came to. */
interface Attempt {
  ok: boolean;
  /** Try again later (when attempts are left). */
  retry: boolean;
  code: number | null;
  error: string;
}

/** Reads at most `max` bytes of a response body, then drops the rest. */
async function readCapped(res: Response, max: number): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let got = 0;
  try {
    while (got < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      got += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

export class NotificationSender extends OutboxPump {
  private mailer: Transporter | null = null;

  constructor(private readonly o: NotificationSenderOptions) {
    super(o.everyMs);
  }

  override async close(): Promise<void> {
    await super.close();
    this.mailer?.close();
  }

  protected async pass(): Promise<number> {
    let sent = 0;
    for (const row of this.o.outbox.due(this.o.clock.now())) {
      if (this.closed) break;
      const a = row.channel === 'webhook' ? await this.postWebhook(row) : await this.sendEmail(row);
      if (a.ok) {
        this.o.outbox.markSent(row.id, a.code, this.o.clock.now());
        sent++;
        continue;
      }
      const final = !a.retry || row.attempts + 1 >= (this.o.maxAttempts ?? 6);
      const next = final ? null : this.o.clock.now() + (this.o.retryMs ?? 30_000) * 2 ** row.attempts;
      this.o.outbox.markFailed(row.id, a.error, a.code, next);
      this.o.log?.(`notification ${row.id} (${row.event}) to ${row.channel} ${row.target} ${final ? 'failed' : 'will be retried'}: ${a.error}`);
    }
    return sent;
  }

  private async postWebhook(row: DeliveryRow): Promise<Attempt> {
    const w = this.o.webhooks.endpoint(row.target);
    if (!w) return { ok: false, retry: false, code: null, error: 'the webhook was removed' };
    try {
      const res = await fetch(w.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'pyti-master',
          [SIGNATURE_HEADER]: signBody(w.secret, row.body),
          [TIMESTAMP_HEADER]: String(Math.floor(this.o.clock.now() / 1000)),
          [DELIVERY_HEADER]: String(row.id),
          [EVENT_HEADER]: row.event,
        },
        body: row.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
      });
      const text = (await readCapped(res, this.o.maxResponseBytes ?? 4096).catch(() => '')).slice(0, 300);
      if (res.status >= 200 && res.status < 300) return { ok: true, retry: false, code: res.status, error: '' };
      if (res.status >= 300 && res.status < 400) return { ok: false, retry: false, code: res.status, error: `HTTP ${res.status}: redirects are not followed (point the webhook at the final URL)` };
      return { ok: false, retry: res.status === 408 || res.status === 429 || res.status >= 500, code: res.status, error: `HTTP ${res.status}${text ? `: ${text}` : ''}` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${this.o.timeoutMs ?? 10_000} ms` : `${e.message}${e.cause?.message ? `: ${e.cause.message}` : ''}`;
      return { ok: false, retry: true, code: null, error: why };
    }
  }

  private async sendEmail(row: DeliveryRow): Promise<Attempt> {
    const s = this.o.smtp;
    if (!s) return { ok: false, retry: false, code: null, error: 'no SMTP server is configured' };
    const t = this.o.timeoutMs ?? 10_000;
    this.mailer ??= createTransport({
      host: s.host, port: s.port, secure: false, requireTLS: s.starttls,
      auth: s.user !== null && s.password !== null ? { user: s.user, pass: s.password } : undefined,
      connectionTimeout: t, greetingTimeout: t, socketTimeout: t,
    });
    const { subject, text } = emailFor(JSON.parse(row.body) as NotificationBody);
    try {
      const info = await this.mailer.sendMail({ from: s.from, to: [...s.to], subject, text, headers: { 'X-PyTI-Event': row.event } });
      const code = /^(\d{3})/.exec(String((info as { response?: unknown }).response ?? ''))?.[1];
      return { ok: true, retry: false, code: code ? Number(code) : null, error: '' };
    } catch (err) {
      const e = err as Error & { responseCode?: number };
      const code = typeof e.responseCode === 'number' ? e.responseCode : null;
      return { ok: false, retry: code === null || code < 500, code, error: `SMTP: ${e.message}` };
    }
  }
}
