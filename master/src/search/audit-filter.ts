/**
 * The audit list's filters and paging, as `GET /api/v1/audits`, the list page `/` and `pyti status`
 * take them (query-string fields, all optional):
 *
 *   state     queued|running|done|error|cancelled
 *   verdict   malicious|suspicious|clean|failed|error|flagged — `flagged` is any of malicious, suspicious
 *             (and older reports' flagged)
 *   result    a result, or its family: `test-fail` matches `test-fail` and `test-fail:deps` …
 *   project   a project name (PEP 503 normalized: `Foo_Bar` finds `foo-bar`)
 *   q         search: projects whose normalized name contains it
 *   subscription  audits a subscription (by name) submitted
 *   rule      audits with a finding of this rule id (e.g. `network-attempt`)
 *   backend, slave   exact names
 *   since, until     submission time: `YYYY-MM-DD` (until: the end of that day) or an ISO 8601 time
 *   commit    audits of git commits whose id starts with it (7-40 hex digits)
 *   limit     1..500 (default 50); offset 0..1 000 000; or after=ID (the last audit of the previous page)
 *
 * A bad field is a 400 PYTI_USAGE naming it (BadRequestError).
 */
import type { AuditState } from '../user-api.js';
import { BadRequestError, COMMIT_PREFIX } from '../http/request-checks.js';
import { projectKey } from '../db/migration-project-key.js';

export const AUDIT_STATES: readonly AuditState[] = ['queued', 'running', 'done', 'error', 'cancelled'];
export const VERDICT_FILTERS = ['malicious', 'suspicious', 'clean', 'failed', 'error', 'flagged'] as const;
export type VerdictFilter = (typeof VERDICT_FILTERS)[number];

/** The checked filters and paging of an audit list. */
export interface AuditFilter {
  state?: AuditState;
  verdict?: VerdictFilter;
  result?: string;
  /** Normalized project name. */
  project?: string;
  /** Normalized search text. */
  q?: string;
  subscription?: string;
  rule?: string;
  backend?: string;
  slave?: string;
  /** Milliseconds since the epoch, inclusive. */
  since?: number;
  /** Milliseconds since the epoch, exclusive. */
  until?: number;
  commit?: string;
  after?: string;
  limit: number;
  offset: number;
}

/** The query-string fields of AuditFilter (paging included), in the order links write them. */
export const FILTER_FIELDS = ['state', 'verdict', 'result', 'project', 'q', 'subscription', 'rule', 'backend', 'slave', 'since', 'until', 'commit', 'after', 'limit', 'offset'] as const;

const PROJECT = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$/;
const SEARCH = /^[A-Za-z0-9._-]{1,100}$/;
const RESULT = /^[a-z][a-z0-9:-]{0,63}$/;
const RULE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const BACKEND = /^[a-z][a-z0-9-]{0,31}$/;
const DATE = /^\d{4}-\d\d-\d\d$/;
const DATETIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)$/;

function time(field: string, v: string, endOfDay: boolean): number {
  const ms = DATE.test(v) ? Date.parse(`${v}T00:00:00Z`) + (endOfDay ? 86_400_000 : 0) : DATETIME.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw new BadRequestError(field, 'must be a date YYYY-MM-DD or an ISO 8601 time such as 2026-01-31T12:00:00Z');
  return ms;
}

function int(field: string, v: string, min: number, max: number): number {
  const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) throw new BadRequestError(field, `must be an integer in ${min}..${max}`);
  return n;
}

/** Checks a list query (strings as they come from a query string); throws BadRequestError naming the bad field. */
export function checkAuditFilter(q: Record<string, unknown>): AuditFilter {
  const out: AuditFilter = { limit: 50, offset: 0 };
  const get = (k: string): string | undefined => {
    const v = q[k];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') throw new BadRequestError(k, 'must be given once');
    return v;
  };
  const match = (k: string, re: RegExp, why: string): string | undefined => {
    const v = get(k);
    if (v !== undefined && !re.test(v)) throw new BadRequestError(k, why);
    return v;
  };
  const state = get('state');
  if (state !== undefined) {
    if (!AUDIT_STATES.includes(state as AuditState)) throw new BadRequestError('state', `must be one of ${AUDIT_STATES.join(', ')}`);
    out.state = state as AuditState;
  }
  const verdict = get('verdict');
  if (verdict !== undefined) {
    if (!(VERDICT_FILTERS as readonly string[]).includes(verdict)) throw new BadRequestError('verdict', `must be one of ${VERDICT_FILTERS.join(', ')}`);
    out.verdict = verdict as VerdictFilter;
  }
  const result = match('result', RESULT, 'must be a result such as pass, test-fail or build-fail:deps');
  if (result !== undefined) out.result = result;
  const project = match('project', PROJECT, 'must be a project name (letters, digits, . _ -)');
  if (project !== undefined) out.project = projectKey(project);
  const search = match('q', SEARCH, 'must be 1-100 letters, digits, . _ or -');
  if (search !== undefined) out.q = projectKey(search);
  const subscription = match('subscription', NAME, 'must be a subscription name');
  if (subscription !== undefined) out.subscription = subscription;
  const rule = match('rule', RULE, 'must be a rule id such as network-attempt');
  if (rule !== undefined) out.rule = rule;
  const backend = match('backend', BACKEND, 'must be a backend name such as bwrap, qemu or libvirt');
  if (backend !== undefined) out.backend = backend;
  const slave = match('slave', NAME, 'must be a slave name');
  if (slave !== undefined) out.slave = slave;
  const since = get('since');
  if (since !== undefined) out.since = time('since', since, false);
  const until = get('until');
  if (until !== undefined) out.until = time('until', until, true);
  const commit = match('commit', COMMIT_PREFIX, 'must be a commit id or a prefix of one: 7 to 40 hex digits');
  if (commit !== undefined) out.commit = commit.toLowerCase();
  const after = match('after', /^[A-Za-z0-9_-]{1,64}$/, 'must be an audit id');
  if (after !== undefined) out.after = after;
  const limit = get('limit');
  if (limit !== undefined) out.limit = int('limit', limit, 1, 500);
  const offset = get('offset');
  if (offset !== undefined) out.offset = int('offset', offset, 0, 1_000_000);
  if (out.after !== undefined && out.offset > 0) throw new BadRequestError('offset', 'goes with limit, not with after');
  return out;
}

/** The query string of a filter as given (raw strings, e.g. for links and the page's live updates), without empty fields. */
export function filterQuery(raw: Record<string, unknown>, overrides: Record<string, string | number | undefined> = {}): string {
  const u = new URLSearchParams();
  for (const k of FILTER_FIELDS) {
    const v = k in overrides ? overrides[k] : raw[k];
    if (v !== undefined && v !== '' && (typeof v === 'string' || typeof v === 'number')) u.set(k, String(v));
  }
  return u.toString();
}
