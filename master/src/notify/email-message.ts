/**
 * The e-mail of a notification: a plain-text message written from the notification body. Header
 * values are single-line (nodemailer encodes them); nothing the slave wrote reaches a header but the
 * project name and version, which the master validated when the audit was submitted.
 */
import type { NotificationBody } from './notification-hook.js';

const oneLine = (s: string, max = 200): string => s.replace(/[\r\n\t]+/g, ' ').slice(0, max);

const WHAT: Record<NotificationBody['event'], string> = {
  completed: 'audited',
  flagged: 'FLAGGED',
  regression: 'REGRESSED',
};

/** Subject and text of the e-mail for `body`. */
export function emailFor(body: NotificationBody): { subject: string; text: string } {
  const a = body.audit;
  const subject = oneLine(`[PyTI] ${a.project} ${a.version} ${WHAT[body.event]}: ${a.verdict} / ${a.result}`);
  const lines = [
    `${a.project} ${a.version}${a.filename ? ` (${a.filename})` : ''}`,
    `verdict: ${a.verdict} (score ${a.score})`,
    `result: ${a.result}`,
    `findings: ${a.findings}`,
    `audit: ${a.url}`,
  ];
  if (body.previous) {
    lines.push('', `previous release: ${body.previous.version} (${body.previous.url})`);
    if (body.previous.regressed) lines.push('regressed:', ...body.previous.reasons.map((r) => `  - ${r}`));
  }
  lines.push('', `event: ${body.event} at ${body.occurredAt}`);
  return { subject, text: `${lines.map((l) => oneLine(l, 2000)).join('\n')}\n` };
}
