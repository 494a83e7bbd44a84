/**
 * One HTTP exchange (no redirects followed) over node:http / node:https whose connection goes only to
 * an address the FetchPolicy accepts: the host name is resolved in the socket's own `lookup`, every
 * address is checked there, and the socket connects to what was checked — there is no second
 * resolution an attacker's DNS could answer differently (DNS rebinding). IP literals are checked
 * before connecting. Answers come back as a web `Response` (body streamed, not decompressed: no
 * `Accept-Encoding` is sent), with `url` set, so callers treat it as fetch's.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { PytiError } from '@pyti/vm-agent';
import { bareHost, type FetchPolicy } from './fetch-policy.js';

/** A fetch-like function for one exchange (the redirect-following layer sits above it). */
export type Transport = (url: string, init: RequestInit) => Promise<Response>;

function resolveAll(policy: FetchPolicy, host: string): Promise<LookupAddress[]> {
  if (policy.resolve) return policy.resolve(host);
  return new Promise((resolve, reject) => dnsLookup(host, { all: true }, (err, addrs) => (err ? reject(err) : resolve(addrs))));
}

/** A socket lookup that resolves, checks every address against `policy`, and hands only checked addresses to the connection. */
function checkedLookup(policy: FetchPolicy, url: string): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, cb: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
    resolveAll(policy, hostname).then((addrs) => {
      if (!addrs.length) throw Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' });
      for (const a of addrs) policy.checkAddress(hostname, a.address, url);
      if (options.all) cb(null, addrs);
      else cb(null, addrs[0]!.address, addrs[0]!.family);
    }).catch((err: Error) => cb(err, ''));
  }) as LookupFunction;
}

function headersOf(init: RequestInit): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

function toResponse(res: IncomingMessage, url: string, method: string): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  const status = res.statusCode ?? 502;
  const noBody = method === 'HEAD' || status === 204 || status === 304;
  if (noBody) res.resume();
  const response = new Response(noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? '', headers });
  Object.defineProperty(response, 'url', { value: url });
  return response;
}

/** The transport of `policy`: see the file comment. Bodies may be strings or bytes. */
export function pinnedTransport(policy: FetchPolicy): Transport {
  return (url, init) => new Promise<Response>((resolve, reject) => {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return reject(new PytiError('PYTI_INDEX_HOST_REFUSED', `${url}: not http or https`));
    const host = bareHost(u);
    try {
      if (isIP(host)) policy.checkAddress(host, host, url);
    } catch (err) {
      return reject(err);
    }
    const method = (init.method ?? 'GET').toUpperCase();
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      return reject(new TypeError('pinnedTransport: only string or byte bodies'));
    }
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(u, {
      method, headers: headersOf(init), signal: init.signal ?? undefined,
      lookup: policy.trustsHost(host) || isIP(host) ? undefined : checkedLookup(policy, url),
    }, (res) => resolve(toResponse(res, url, method)));
    req.once('error', (err) => reject(err instanceof PytiError ? err : Object.assign(new TypeError('fetch failed'), { cause: err })));
    req.end(body ?? undefined);
  });
}
