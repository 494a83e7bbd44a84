/** The events a notification is sent on (webhooks and e-mail alike). */
export const NOTIFY_EVENTS = ['completed', 'flagged', 'regression'] as const;

/**
 * `completed`: an audit's report was stored; `flagged`: its verdict is malicious or suspicious;
 * `regression`: it regressed against the previous release of the same project (see regression.ts).
 */
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** Parses a comma-separated list of events (`all` for every one); null when an item is unknown or the list is empty. */
export function parseEvents(spec: string): NotifyEvent[] | null {
  const items = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 1 && items[0] === 'all') return [...NOTIFY_EVENTS];
  if (items.length === 0 || items.some((i) => !(NOTIFY_EVENTS as readonly string[]).includes(i))) return null;
  return NOTIFY_EVENTS.filter((e) => items.includes(e));
}
