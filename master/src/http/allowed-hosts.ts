/**
 * The Host allow-list: which `Host` headers the master answers. A browser page on another site can
 * make its own name resolve to the master's address (DNS rebinding) and then read the master as
 * same-origin; checking `Host` against the names the master is meant to be reached by stops that.
 *
 * Defaults: the listen host (unless it is a wildcard address), `localhost`, `127.0.0.1` and `::1`,
 * on any port; when listening on every address (`0.0.0.0`, `::`), also this machine's host name and
 * its interfaces' addresses. `--allowed-host NAME[:PORT]` (repeatable) adds names (behind a
 * reverse proxy: the public name); `--allowed-host '*'` turns the check off.
 */
import { hostname, networkInterfaces } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { PytiError } from '@pyti/vm-agent';
import { sendApiError } from './body.js';

const NAME = /^([a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*\.?$/;
const IPV6 = /^[0-9a-f:.]{2,45}$/;

/** Lower-cases and checks one entry (`name`, `name:port`, `[v6]`, `[v6]:port`, a bare v6 address, or `*`). */
export function normalizeAllowedHost(entry: string): string {
  const e = entry.trim().toLowerCase();
  if (e === '*') return e;
  const bad = (): never => {
    throw new PytiError('PYTI_CONFIG_INVALID', `--allowed-host: ${JSON.stringify(entry.slice(0, 300))} is not a host name, address, or name:port`);
  };
  let name: string;
  let port = '';
  const v6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(e);
  if (v6) {
    name = v6[1]!;
    port = v6[2] ?? '';
  } else if (IPV6.test(e) && e.split(':').length > 2) name = e;
  else {
    const i = e.lastIndexOf(':');
    name = i >= 0 ? e.slice(0, i) : e;
    port = i >= 0 ? e.slice(i + 1) : '';
    if (!NAME.test(name) || name.length > 253) bad();
  }
  if (v6 && !IPV6.test(name)) bad();
  if (port !== '' && (!/^\d{1,5}$/.test(port) || Number(port) > 65535)) bad();
  const host = name.includes(':') ? `[${name}]` : name;
  return port ? `${host}:${Number(port)}` : host;
}

/** The frozen allow-list for a master listening on `listenHost`, with `extra` entries added. */
export function allowedHostList(listenHost: string, extra: readonly string[]): readonly string[] {
  const given = extra.map(normalizeAllowedHost);
  if (given.includes('*')) return Object.freeze(['*']);
  const wildcard = listenHost === '0.0.0.0' || listenHost === '::' || listenHost === '[::]';
  const defaults = ['localhost', '127.0.0.1', '::1'];
  if (!wildcard) defaults.push(listenHost);
  else {
    defaults.push(hostname());
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) defaults.push(a.address.replace(/%.*$/, ''));
  }
  const out = new Set<string>();
  for (const d of defaults) {
    try {
      out.add(normalizeAllowedHost(d));
    } catch {
      // A host name this machine reports that is not a valid DNS name is simply not allowed.
    }
  }
  for (const g of given) out.add(g);
  return Object.freeze([...out]);
}

/** Whether a `Host` header value is on `allowed` (an entry without a port allows every port). */
export function hostAllowed(header: string | undefined, allowed: readonly string[]): boolean {
  if (allowed.includes('*')) return true;
  if (!header) return false;
  let h: string;
  try {
    h = normalizeAllowedHost(header);
  } catch {
    return false;
  }
  if (allowed.includes(h)) return true;
  const m = /^(.*):(\d+)$/.exec(h);
  return m !== null && allowed.includes(m[1]!);
}

/** Refuses requests with a `Host` not on `allowed`: 421 `PYTI_HOST_NOT_ALLOWED`, before any route runs or any body is read. */
export function registerHostCheck(app: FastifyInstance, allowed: readonly string[]): void {
  app.addHook('onRequest', async (req, reply) => {
    if (hostAllowed(req.headers.host, allowed)) return;
    reply.header('connection', 'close');
    await sendApiError(reply, 421, 'PYTI_HOST_NOT_ALLOWED', 'this master does not answer to that Host name (start it with --allowed-host NAME to add one)');
  });
}
