/**
 * `pyti webhook add|list|remove|deliveries`: the master's webhooks, through the user API (every call
 * needs the user token).
 *
 *   pyti webhook add URL [--subscription NAME] [--on completed,flagged,regression|all] [--json]
 *   pyti webhook list [--json]
 *   pyti webhook remove ID [--json]
 *   pyti webhook deliveries ID [--limit N] [--json]     the delivery log, newest first
 *
 * `add` prints the webhook's secret: it is shown this once (receivers check X-PyTI-Signature with it).
 * Texts from the master (URLs, receivers' error messages) are cleaned of terminal control characters.
 */
import { parseArgs } from 'node:util';
import { PytiError } from '@pyti/vm-agent';
import { apiFetch } from '../client/api-request.js';
import { DEFAULT_MASTER_URL } from '../client/user-client.js';
import type { DeliveryView } from '../notify/delivery-outbox.js';
import { parseEvents } from '../notify/notify-events.js';
import type { WebhookCreated, WebhookSummary } from '../notify/webhook-store.js';
import { CONNECTION_OPTIONS, UsageError, intFlag, type CliIO } from './cli-io.js';
import { clean } from './terminal-text.js';

export const WEBHOOK_USAGE = `usage:
  pyti webhook add URL [--subscription NAME] [--on completed,flagged,regression|all] [--json]
  pyti webhook list [--json]
  pyti webhook remove ID [--json]
  pyti webhook deliveries ID [--limit N] [--json]
  common: --master URL (PYTI_MASTER_URL) --token T (PYTI_TOKEN)
The master POSTs a JSON body to URL on each event (default: all three), for every audit or only those
of one subscription, signed in X-PyTI-Signature: sha256=<HMAC-SHA256 of the body under the secret>;
the secret is printed once, by add.`;

/** Runs `pyti webhook …` (args after `webhook`); resolves to the exit code. */
export async function webhookCommand(args: string[], io: CliIO): Promise<number> {
  const [verb, ...rest] = args;
  const { values: v, positionals } = parseArgs({
    args: rest, allowPositionals: true, strict: true,
    options: { ...CONNECTION_OPTIONS, json: { type: 'boolean', default: false }, subscription: { type: 'string' }, on: { type: 'string' }, limit: { type: 'string' } },
  });
  if (verb !== 'add' && (v.subscription !== undefined || v.on !== undefined)) throw new UsageError(`--subscription and --on go with webhook add, not ${verb ?? 'nothing'}`);
  if (verb !== 'deliveries' && v.limit !== undefined) throw new UsageError('--limit goes with webhook deliveries');
  const env = io.env ?? process.env;
  const base = v.master ?? (env.PYTI_MASTER_URL || DEFAULT_MASTER_URL);
  const token = v.token ?? (env.PYTI_TOKEN || undefined);
  if (!token) throw new PytiError('PYTI_CONFIG_INVALID', `no token for the master at ${base}: pass --token T or set PYTI_TOKEN to the master's user token`);
  const call = async <T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> => {
    const res = await apiFetch(io.fetch ?? fetch, {
      method, url: `${base.replace(/\/+$/, '')}${path}`, idempotent: method !== 'POST', what: `${method} ${path.split('?')[0]}`,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: () => JSON.stringify(body) } : {}),
    });
    return (await res.json()) as T;
  };
  const print = (json: unknown, text: string) => io.out(v.json ? `${JSON.stringify(json, null, 1)}\n` : `${text}\n`);
  const one = (what: string): string => {
    if (positionals.length !== 1) throw new UsageError(`webhook ${verb} takes exactly one ${what}`);
    return positionals[0]!;
  };
  const line = (w: WebhookSummary) => `${w.id}  ${clean(w.url)}  ${w.subscription ? `subscription ${clean(w.subscription)}` : 'all audits'}  on ${w.events.join(',')}`;
  switch (verb) {
    case 'add': {
      const url = one('URL');
      const events = v.on === undefined ? undefined : parseEvents(v.on);
      if (events === null) throw new UsageError('--on takes a comma-separated list of completed, flagged, regression (or all)');
      const w = await call<WebhookCreated>('POST', '/api/v1/webhooks', { url, ...(v.subscription !== undefined ? { subscription: v.subscription } : {}), ...(events ? { events } : {}) });
      print(w, `added ${line(w)}\nsecret ${w.secret}  (shown once: receivers check X-PyTI-Signature with it)`);
      return 0;
    }
    case 'list': {
      if (positionals.length) throw new UsageError('webhook list takes no arguments');
      const { webhooks } = await call<{ webhooks: WebhookSummary[] }>('GET', '/api/v1/webhooks');
      print(webhooks, webhooks.length ? webhooks.map(line).join('\n') : 'no webhooks');
      return 0;
    }
    case 'remove': {
      const w = await call<WebhookSummary>('DELETE', `/api/v1/webhooks/${encodeURIComponent(one('webhook id'))}`);
      print(w, `removed ${line(w)}`);
      return 0;
    }
    case 'deliveries': {
      const id = one('webhook id');
      const limit = intFlag('--limit', v.limit, 1, 1000);
      const { deliveries } = await call<{ deliveries: DeliveryView[] }>('GET', `/api/v1/webhooks/${encodeURIComponent(id)}/deliveries${limit ? `?limit=${limit}` : ''}`);
      const rows = deliveries.map((d) => `${d.id}  ${d.createdAt}  ${d.event}  audit ${d.auditId}  ${d.state}  attempts ${d.attempts}`
        + `${d.responseCode !== null ? `  HTTP ${d.responseCode}` : ''}${d.lastError ? `  ${clean(d.lastError)}` : ''}${d.nextAttemptAt ? `  next ${d.nextAttemptAt}` : ''}`);
      print(deliveries, rows.length ? rows.join('\n') : 'no deliveries yet');
      return 0;
    }
    default:
      throw new UsageError(`webhook takes add, list, remove or deliveries, not ${JSON.stringify(verb ?? '')}`);
  }
}
