/**
 * The XML-RPC methods of pypi.org's `/pypi` endpoint that mirrors use, with warehouse's semantics
 * and faults (warehouse `warehouse/legacy/api/xmlrpc/views.py`, pyramid_rpc `xmlrpc.py`):
 *
 * - `changelog_last_serial()`: the newest serial (nil while the log is empty: `max(id)` of no rows).
 * - `changelog_since_serial(serial: int)`: entries with a serial above `serial`, ascending, at most
 *   50 000 (`pageSize` here), each `[name, version|nil, timestamp, action, serial]`; the action goes
 *   through warehouse's `_clean_for_xml` (non-ASCII becomes a literal `&#NNNN;` text).
 * - `list_packages()`, `list_packages_with_serial()`.
 * - `system.multicall` is refused as pypi.org refuses it.
 *
 * Faults: unknown method -32601 `server error; requested method not found`; wrong number of
 * arguments -32602 `server error; invalid method params`; wrong argument type -32602
 * `client error; type of argument "serial" must be int; got str instead` (warehouse's typeguard
 * check); a body that is not a call -32700 `parse error; not well formed`; the rate limit -32500
 * `HTTPTooManyRequests: The action could not be performed because there were too many requests by
 * the client.` (warehouse's `ratelimit()` wrapping pyramid's HTTPTooManyRequests), optionally
 * followed by ` Limit may reset in N seconds.`.
 */
import type { IndexState } from './index-state.js';
import type { Journal } from './journal.js';
import type { PoisonEntry } from './fault-injection.js';
import { decodeCall, encodeFault, encodeResponse, RawXmlRpcInt, XmlRpcFault, type XmlRpcValue } from './xmlrpc-codec.js';

/** pypi.org's page size for `changelog_since_serial`. */
export const PYPI_CHANGELOG_PAGE = 50_000;

/** The rate-limit fault string, as warehouse words it. */
export const RATE_LIMIT_FAULT = 'HTTPTooManyRequests: The action could not be performed because there were too many requests by the client.';

/** What the XML-RPC methods read. */
export interface XmlRpcContext {
  journal: Journal;
  state: IndexState;
  /** Entries per `changelog_since_serial` answer. */
  pageSize: number;
  /** Fault injection: entries served as they are in every answer (fault-injection.ts). */
  poison?: PoisonEntry[];
}

/** A JSON value as an XML-RPC value (integers beyond 32 bits written as they are). */
function asXmlRpc(v: unknown): XmlRpcValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isInteger(v) ? (Math.abs(v) < 2 ** 31 ? v : new RawXmlRpcInt(BigInt(v).toString())) : { double: v };
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(asXmlRpc);
  return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, asXmlRpc(x)]));
}

/** Fault injection: the poison entries an answer after `since` carries, with the numeric serial used to place them. */
function poisonAfter(poison: PoisonEntry[], since: number): { at: number; entry: XmlRpcValue }[] {
  return poison.flatMap((p) => {
    const numeric = typeof p.serial === 'number' ? p.serial : p.serialType === 'int' && /^-?\d+$/.test(p.serial) ? Number(p.serial) : Infinity;
    if (numeric !== Infinity && numeric <= since) return [];
    const serial = typeof p.serial === 'string' && p.serialType === 'int' ? new RawXmlRpcInt(p.serial) : asXmlRpc(p.serial);
    return [{ at: numeric, entry: [asXmlRpc(p.name), asXmlRpc(p.version), asXmlRpc(p.timestamp ?? 1_700_000_000), asXmlRpc(p.action), serial] }];
  });
}

/** warehouse's `_clean_for_xml`: non-ASCII as character references (text), then characters XML cannot carry removed. */
function cleanForXml(s: string): string {
  return s.replace(/[^\x00-\x7f]/gu, (c) => `&#${c.codePointAt(0)};`).replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '');
}

const typeName = (v: XmlRpcValue): string => v === null ? 'NoneType' : typeof v === 'string' ? 'str' : typeof v === 'boolean' ? 'bool'
  : typeof v === 'number' ? 'int' : Array.isArray(v) ? 'list' : 'double' in v ? 'float' : 'dict';

function intArg(params: XmlRpcValue[], i: number, name: string): number {
  const v = params[i]!;
  if (typeof v !== 'number') throw new XmlRpcFault(-32602, `client error; type of argument "${name}" must be int; got ${typeName(v)} instead`);
  return v;
}

function arity(params: XmlRpcValue[], n: number): void {
  if (params.length !== n) throw new XmlRpcFault(-32602, 'server error; invalid method params');
}

const METHODS: Record<string, (ctx: XmlRpcContext, params: XmlRpcValue[]) => XmlRpcValue> = {
  changelog_last_serial(ctx, params) {
    arity(params, 0);
    return ctx.journal.lastSerial();
  },
  changelog_since_serial(ctx, params) {
    arity(params, 1);
    const since = intArg(params, 0, 'serial');
    const real = ctx.journal.since(since, ctx.pageSize).map((e) => ({ at: e.serial, entry: [e.name, e.version, e.timestamp, cleanForXml(e.action), e.serial] as XmlRpcValue }));
    if (!ctx.poison?.length) return real.map((r) => r.entry);
    return [...real, ...poisonAfter(ctx.poison, since)].sort((a, b) => a.at - b.at).map((r) => r.entry);
  },
  list_packages(ctx, params) {
    arity(params, 0);
    return ctx.state.projects().map((p) => p.name);
  },
  list_packages_with_serial(ctx, params) {
    arity(params, 0);
    return Object.fromEntries(ctx.state.projects().map((p) => [p.name, p.lastSerial]));
  },
  'system.multicall'() {
    throw new XmlRpcFault(-32500, 'ValueError: MultiCall requests have been deprecated, use individual requests instead.');
  },
};

/** Answers one XML-RPC request body with a `methodResponse` document (a fault when the call fails). */
export function answerXmlRpc(body: string, ctx: XmlRpcContext): string {
  try {
    const call = decodeCall(body);
    const method = Object.hasOwn(METHODS, call.method) ? METHODS[call.method] : undefined;
    if (!method) throw new XmlRpcFault(-32601, 'server error; requested method not found');
    return encodeResponse(method(ctx, call.params));
  } catch (err) {
    if (err instanceof XmlRpcFault) return encodeFault(err);
    return encodeFault(new XmlRpcFault(-32500, 'application error'));
  }
}

/** The rate-limit fault answer; `resetSeconds` adds warehouse's hint. */
export function rateLimitAnswer(resetSeconds?: number): string {
  const hint = resetSeconds !== undefined ? ` Limit may reset in ${Math.max(1, Math.floor(resetSeconds))} seconds.` : '';
  return encodeFault(new XmlRpcFault(-32500, RATE_LIMIT_FAULT + hint));
}
