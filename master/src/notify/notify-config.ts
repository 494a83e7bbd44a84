/**
 * The master's notification settings: the public base URL notifications and feeds link to, and the
 * SMTP server e-mail goes through. Validated once at start-up (PYTI_CONFIG_INVALID naming the flag),
 * then frozen. The SMTP password is read from the environment only (PYTI_SMTP_PASSWORD), never from
 * a flag, so it does not show in the process list.
 */
import { PytiError } from '@pyti/vm-agent';
import { NOTIFY_EVENTS, parseEvents, type NotifyEvent } from './notify-events.js';

/** The SMTP server and the mail sent through it. */
export interface SmtpConfig {
  readonly host: string;
  readonly port: number;
  /** Require STARTTLS (refuse to send in the clear); without it, plain SMTP (or STARTTLS when the server offers it). */
  readonly starttls: boolean;
  readonly from: string;
  readonly to: readonly string[];
  readonly user: string | null;
  readonly password: string | null;
  /** The events mailed (default: flagged and regression). */
  readonly events: readonly NotifyEvent[];
}

export interface NotifyConfig {
  /**
   * Base URL of the master as users reach it (links in notifications and feeds), no trailing slash;
   * null: the address the master listens on.
   */
  readonly publicUrl: string | null;
  /** Null: no e-mail. */
  readonly smtp: SmtpConfig | null;
}

/** `pyti master` flags of notifications. */
export interface NotifyFlags {
  publicUrl?: string;
  smtpHost?: string;
  smtpPort?: string | number;
  smtpStarttls?: boolean;
  smtpFrom?: string;
  /** Comma-separated addresses. */
  smtpTo?: string;
  smtpUser?: string;
  /** Comma-separated events, or `all`. */
  emailOn?: string;
}

const MAILBOX = /^[^\s@<>(),;:"\\]{1,64}@[A-Za-z0-9.-]{1,253}$/;
const HOST = /^[A-Za-z0-9.:_-]{1,255}$/;

function invalid(what: string, why: string): never {
  throw new PytiError('PYTI_CONFIG_INVALID', `${what}: ${why}`);
}

/** Builds the notification settings. */
export function loadNotifyConfig(flags: NotifyFlags, env: Record<string, string | undefined>): NotifyConfig {
  const rawUrl = flags.publicUrl ?? env.PYTI_PUBLIC_URL ?? null;
  let publicUrl: string | null = null;
  if (rawUrl !== null) {
    try {
      const u = new URL(rawUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('must be http or https');
      if (u.username || u.password || u.search || u.hash) throw new Error('must have no credentials, query or fragment');
      publicUrl = u.href.replace(/\/+$/, '');
    } catch (err) {
      invalid(flags.publicUrl !== undefined ? '--public-url' : 'PYTI_PUBLIC_URL', `${JSON.stringify(rawUrl.slice(0, 200))}: ${(err as Error).message}`);
    }
  }
  const any = [flags.smtpHost, flags.smtpPort, flags.smtpFrom, flags.smtpTo, flags.smtpUser, flags.emailOn].some((v) => v !== undefined) || flags.smtpStarttls === true;
  if (!any) return Object.freeze({ publicUrl, smtp: null });
  const host = flags.smtpHost ?? invalid('--smtp-host', 'is required to send e-mail');
  if (!HOST.test(host)) invalid('--smtp-host', `${JSON.stringify(host.slice(0, 80))} is not a host name or address`);
  const starttls = flags.smtpStarttls === true;
  const p = flags.smtpPort ?? (starttls ? 587 : 25);
  const port = typeof p === 'number' ? p : /^\d{1,5}$/.test(p) ? Number(p) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) invalid('--smtp-port', `${JSON.stringify(p)} is not a port (1-65535)`);
  const from = flags.smtpFrom ?? invalid('--smtp-from', 'is required to send e-mail');
  if (!MAILBOX.test(from)) invalid('--smtp-from', `${JSON.stringify(from.slice(0, 80))} is not an e-mail address`);
  const to = (flags.smtpTo ?? invalid('--smtp-to', 'is required to send e-mail')).split(',').map((s) => s.trim()).filter(Boolean);
  if (to.length === 0 || to.length > 50) invalid('--smtp-to', 'must name 1-50 addresses');
  for (const a of to) if (!MAILBOX.test(a)) invalid('--smtp-to', `${JSON.stringify(a.slice(0, 80))} is not an e-mail address`);
  const user = flags.smtpUser ?? null;
  const password = env.PYTI_SMTP_PASSWORD || null;
  if (user !== null && password === null) invalid('--smtp-user', 'needs the password in PYTI_SMTP_PASSWORD');
  if (user === null && password !== null) invalid('PYTI_SMTP_PASSWORD', 'is set but --smtp-user is not');
  const events = flags.emailOn === undefined ? (['flagged', 'regression'] as NotifyEvent[]) : parseEvents(flags.emailOn);
  if (events === null) invalid('--email-on', `must be a comma-separated list of ${NOTIFY_EVENTS.join(', ')} (or all)`);
  return Object.freeze({ publicUrl, smtp: Object.freeze({ host, port, starttls, from, to: Object.freeze(to), user, password, events: Object.freeze(events) }) });
}
