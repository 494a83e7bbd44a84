/**
 * fetch for the package index under a FetchPolicy: the first URL and every redirect's target must be
 * on an allowed origin (`PYTI_INDEX_HOST_REFUSED` naming the target otherwise), at most
 * MAX_REDIRECTS hops. A request with a body (XML-RPC's POST) is never sent again to another origin:
 * a 307/308 across origins is refused, and a 301/302/303 becomes a GET without the body (as fetch
 * does). `Authorization` and `Cookie` are dropped when a redirect leaves the first request's origin.
 * The master and the slave both use it (index client, change log, RSS, JSON API, file downloads,
 * observations).
 */
import { PytiError } from '@pyti/vm-agent';
import type { FetchPolicy } from './fetch-policy.js';
import { pinnedTransport, type Transport } from './pinned-transport.js';

/** Redirects followed before giving up. */
export const MAX_REDIRECTS = 5;

const REDIRECT = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

export interface PolicyFetchOptions {
  /** One exchange without redirects (default: the policy's pinned transport; tests may pass fetch). */
  transport?: Transport;
}

/** Fetches `url` under `policy`, following allowed redirects only; resolves to the final answer (any status). */
export async function policyFetch(policy: FetchPolicy, url: string, init: RequestInit = {}, opts: PolicyFetchOptions = {}): Promise<Response> {
  const transport = opts.transport ?? pinnedTransport(policy);
  const first = policy.checkUrl(url, 'request');
  let current = first;
  let method = (init.method ?? 'GET').toUpperCase();
  let body = init.body;
  const headers = new Headers(init.headers);
  for (let hop = 0; ; hop++) {
    const res = await transport(current.toString(), { ...init, method, body, headers, redirect: 'manual' });
    const location = REDIRECT.has(res.status) ? res.headers.get('location') : null;
    if (location === null) return res;
    await res.body?.cancel().catch(() => undefined);
    let target: URL;
    try {
      target = new URL(location, current);
    } catch {
      throw new PytiError('PYTI_INDEX_HOST_REFUSED', `redirect from ${current.origin}${current.pathname}: Location ${JSON.stringify(location.slice(0, 300))} is not a URL`);
    }
    policy.checkUrl(target.toString(), `redirect (HTTP ${res.status}) from ${current.origin}${current.pathname} to ${target.origin}${target.pathname}`);
    if (hop + 1 > MAX_REDIRECTS) throw new PytiError('PYTI_INDEX_UNREACHABLE', `${url}: more than ${MAX_REDIRECTS} redirects`);
    const hasBody = body !== undefined && body !== null;
    if (hasBody && (res.status === 307 || res.status === 308)) {
      if (target.origin !== current.origin) {
        throw new PytiError('PYTI_INDEX_HOST_REFUSED', `redirect (HTTP ${res.status}) from ${current.origin}${current.pathname} to ${target.origin}${target.pathname}: a ${method} body is never sent again to another origin`);
      }
    } else if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
      headers.delete('content-type');
      headers.delete('content-length');
    }
    if (target.origin !== first.origin) for (const h of CREDENTIAL_HEADERS) headers.delete(h);
    current = target;
  }
}
