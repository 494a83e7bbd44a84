/**
 * Sends queued observations to the index's observations API (PyPI's `POST
 * /danger-api/projects/{name}/observations`, bearer token, JSON body `{kind, summary,
 * inspector_url}`), with retries: a network error, 429 or 5xx is tried again after a growing
 * delay, up to `maxAttempts`; another 4xx (bad token, unknown project, refused body) fails at once.
 * Only runs when the master has an observations token.
 */
import type { Clock } from '../queue/clock.js';
import { OutboxPump } from '../queue/outbox-pump.js';
import type { ObservationRow, ObservationStore } from './observation-store.js';

export interface ObservationSenderOptions {
  store: ObservationStore;
  /** The index (normalized, no trailing slash), e.g. `https://pypi.org`. */
  indexUrl: string;
  token: string;
  clock: Clock;
  /** Attempts per observation (default 5). */
  maxAttempts?: number;
  /** Delay before the second attempt (default 30 s), doubled each time. */
  retryMs?: number;
  /** Between looks at the queue when idle (default 5 s); 0: no timer (tests call sendDue). */
  everyMs?: number;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  log?: (line: string) => void;
  fetch?: typeof fetch;
}

/** The observations API URL of one project. */
export function observationsUrl(indexUrl: string, project: string): string {
  return `${indexUrl}/danger-api/projects/${encodeURIComponent(project)}/observations`;
}

export class ObservationSender extends OutboxPump {
  constructor(private readonly o: ObservationSenderOptions) {
    super(o.everyMs);
  }

  protected async pass(): Promise<number> {
    let sent = 0;
    for (const row of this.o.store.due(this.o.clock.now())) {
      if (this.closed) break;
      if (await this.sendOne(row)) sent++;
    }
    return sent;
  }

  private async sendOne(row: ObservationRow): Promise<boolean> {
    const url = observationsUrl(this.o.indexUrl, row.project);
    const max = this.o.maxAttempts ?? 5;
    let why: string;
    let retry = true;
    try {
      const res = await (this.o.fetch ?? fetch)(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.o.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: row.body,
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 30_000),
        redirect: 'error',
      });
      const text = (await res.text().catch(() => '')).slice(0, 500);
      if (res.ok) {
        this.o.store.markSent(row.id, this.o.clock.now());
        this.o.log?.(`observation for ${row.project} ${row.version} (${row.filename}) sent to ${url}`);
        return true;
      }
      why = `HTTP ${res.status}${text ? `: ${text}` : ''}`;
      retry = res.status === 429 || res.status >= 500;
    } catch (err) {
      why = (err as Error).message;
    }
    const final = !retry || row.attempts + 1 >= max;
    const next = final ? null : this.o.clock.now() + (this.o.retryMs ?? 30_000) * 2 ** row.attempts;
    this.o.store.markFailed(row.id, why, next);
    this.o.log?.(`observation for ${row.project} ${row.version} (${row.filename}) ${final ? 'failed' : 'will be retried'}: ${why}`);
    return false;
  }
}
