/**
 * Checks of subscription requests (create and update), from the API or the CLI: every violation is a
 * SubscriptionInvalidError (PYTI_SUBSCRIPTION_INVALID) naming the field.
 */
import type { BacklogPolicy, SubscriptionCreateRequest, SubscriptionUpdateRequest } from '../user-api.js';
import { SubscriptionInvalidError } from './subscription-errors.js';
import { kindFields, subscriptionKind, subscriptionKinds } from './subscription-kinds.js';

/** A subscription's name: 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit). */
export const SUBSCRIPTION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const BACKEND = /^[a-z][a-z0-9-]{0,31}$/;
/** The largest backlog limit. */
export const MAX_BACKLOG = 1_000_000;
const POLICIES: readonly BacklogPolicy[] = ['drop-oldest', 'pause'];

/** A create request, checked: the spec is the kind's normalized parameters. */
export interface CheckedCreate {
  name: string;
  kind: string;
  spec: Record<string, unknown>;
  priority: number;
  backend: string | null;
  backlogLimit: number | null;
  backlogPolicy: BacklogPolicy;
}

function object(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SubscriptionInvalidError('body', 'must be a JSON object');
  return body as Record<string, unknown>;
}

/** Checks a subscription name (the path parameter too). */
export function checkSubscriptionName(v: unknown): string {
  if (typeof v !== 'string' || !SUBSCRIPTION_NAME.test(v)) throw new SubscriptionInvalidError('name', 'must be 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit');
  return v;
}

function priority(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -100 || v > 100) throw new SubscriptionInvalidError('priority', 'must be an integer in -100..100');
  return v;
}

function backend(v: unknown): string | null {
  if (v === null) return null;
  if (typeof v !== 'string' || !BACKEND.test(v)) throw new SubscriptionInvalidError('backend', 'must be a backend name such as bwrap, qemu or libvirt');
  return v;
}

function backlog(v: unknown): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_BACKLOG) throw new SubscriptionInvalidError('backlog', `must be an integer in 1..${MAX_BACKLOG}, or null for no limit`);
  return v;
}

function policy(v: unknown): BacklogPolicy {
  if (!POLICIES.includes(v as BacklogPolicy)) throw new SubscriptionInvalidError('onBacklog', `must be one of ${POLICIES.join(', ')}`);
  return v as BacklogPolicy;
}

/** The fields of every create request; each kind adds its own (SubscriptionKindDefinition.fields). */
const CREATE_FIELDS = new Set(['name', 'kind', 'priority', 'backend', 'backlog', 'onBacklog']);
const UPDATE_FIELDS = new Set(['paused', 'priority', 'backend', 'backlog', 'onBacklog']);

/**
 * Checks a create request. The kind's own fields (SubscriptionKindDefinition.fields, e.g. `projects`
 * or `repo`) go to its parser; a field of another kind is refused as not going with this one.
 */
export function checkCreate(body: unknown): CheckedCreate {
  const b = object(body) as Partial<SubscriptionCreateRequest> & Record<string, unknown>;
  const byField = kindFields();
  for (const k of Object.keys(b)) if (!CREATE_FIELDS.has(k) && !byField.has(k)) throw new SubscriptionInvalidError(k, 'is not a subscription field');
  const name = checkSubscriptionName(b.name);
  if (typeof b.kind !== 'string') throw new SubscriptionInvalidError('kind', `must be one of ${subscriptionKinds().join(', ')}`);
  const def = subscriptionKind(b.kind);
  if (!def) throw new SubscriptionInvalidError('kind', `${JSON.stringify(b.kind.slice(0, 40))} is not one of ${subscriptionKinds().join(', ')}`);
  for (const k of Object.keys(b)) {
    if (byField.has(k) && !def.fields.includes(k) && b[k] !== undefined) throw new SubscriptionInvalidError(k, `does not go with kind ${b.kind}`);
  }
  const spec = def.parseSpec(b);
  return {
    name,
    kind: b.kind,
    spec,
    priority: b.priority === undefined ? 0 : priority(b.priority),
    backend: b.backend === undefined ? null : backend(b.backend),
    backlogLimit: b.backlog === undefined ? null : backlog(b.backlog),
    backlogPolicy: b.onBacklog === undefined ? 'drop-oldest' : policy(b.onBacklog),
  };
}

/** A checked update: the fields to change. */
export interface CheckedUpdate {
  paused?: boolean;
  priority?: number;
  backend?: string | null;
  backlogLimit?: number | null;
  backlogPolicy?: BacklogPolicy;
}

/** Checks an update request (at least one field). */
export function checkUpdate(body: unknown): CheckedUpdate {
  const b = object(body) as SubscriptionUpdateRequest & Record<string, unknown>;
  const keys = Object.keys(b);
  for (const k of keys) if (!UPDATE_FIELDS.has(k)) throw new SubscriptionInvalidError(k, `is not something a subscription update changes (${[...UPDATE_FIELDS].join(', ')})`);
  if (keys.length === 0) throw new SubscriptionInvalidError('body', `changes nothing: give one of ${[...UPDATE_FIELDS].join(', ')}`);
  const out: CheckedUpdate = {};
  if (b.paused !== undefined) {
    if (typeof b.paused !== 'boolean') throw new SubscriptionInvalidError('paused', 'must be true or false');
    out.paused = b.paused;
  }
  if (b.priority !== undefined) out.priority = priority(b.priority);
  if (b.backend !== undefined) out.backend = backend(b.backend);
  if (b.backlog !== undefined) out.backlogLimit = backlog(b.backlog);
  if (b.onBacklog !== undefined) out.backlogPolicy = policy(b.onBacklog);
  return out;
}
