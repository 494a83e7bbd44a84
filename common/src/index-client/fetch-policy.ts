/**
 * Where the master and the slaves may fetch from when they talk to the package index: the index's own
 * origin and its files host(s) (pypi.org's files are on https://files.pythonhosted.org), and nothing
 * else — neither a redirect's target nor a file URL the index's JSON names.
 *
 * Addresses: the configured index host may resolve to anything (a test or private mirror on
 * loopback). Every other host is resolved and each address checked: loopback (127/8, ::1), link-local
 * (169.254/16, fe80::/10), private (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10) and unspecified
 * or multicast addresses are refused, unless the operator named that very address as a files host
 * (`--files-host http://10.1.2.3:8080`). The check is done in the connection's own lookup (see
 * pinned-transport.ts), so the address checked is the address connected to (no DNS rebinding).
 *
 * A policy is built and validated once at start-up (`PYTI_CONFIG_INVALID` for a bad files host) and
 * is frozen.
 */
import { BlockList, isIP } from 'node:net';
import { PytiError } from '@pyti/vm-agent';
import { normalizeIndexUrl } from './index-url.js';

/** pypi.org's files host, allowed by default when the index is pypi.org. */
export const PYPI_FILES_HOST = 'https://files.pythonhosted.org';

/** Resolves a host name to its addresses (node's dns.lookup with `all: true`, injectable for tests). */
export type HostResolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

const BLOCKED = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.168.0.0', 16], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) BLOCKED.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) BLOCKED.addSubnet(net, bits, 'ipv6');

/** Whether `address` (an IP literal) is loopback, link-local, private, unspecified or multicast (IPv4-mapped IPv6 included). */
export function isNonPublicAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return BLOCKED.check(mapped[1]!, 'ipv4');
  const family = isIP(a);
  if (family === 4) return BLOCKED.check(a, 'ipv4');
  if (family === 6) return BLOCKED.check(a, 'ipv6');
  return true; // not an address at all: never treated as public
}

/** `scheme://host[:port]` of a URL, with the default port left out (URL's own `origin`). */
function originOf(url: string | URL): string {
  return (typeof url === 'string' ? new URL(url) : url).origin;
}

/** The host of a URL without IPv6 brackets. */
export function bareHost(u: URL): string {
  return u.hostname.replace(/^\[|\]$/g, '');
}

/** Parses one files host: `files.example.org` (https), `https://h[:port]` or `http://h:port`; no path, credentials or query. */
function parseFilesHost(entry: string): string {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `https://${entry}`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new PytiError('PYTI_CONFIG_INVALID', `${JSON.stringify(entry)} is not a host or an http(s) origin`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PytiError('PYTI_CONFIG_INVALID', `${entry}: not http or https`);
  if (u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) {
    throw new PytiError('PYTI_CONFIG_INVALID', `${entry}: give only scheme, host and port (no path, query or credentials)`);
  }
  return u.origin;
}

export interface FetchPolicyOptions {
  /** Files hosts (origins, or bare host names meaning https). Default: files.pythonhosted.org when the index is pypi.org, else none. */
  filesHosts?: readonly string[];
  /** Name resolution (default: node's dns.lookup). */
  resolve?: HostResolver;
  /** The files hosts may resolve to any address (a URL the user gave on the command line). Default false. */
  trustFilesHosts?: boolean;
}

/** The origins the index traffic may go to, and the address rule; immutable. */
export class FetchPolicy {
  /** The index's origin (`https://pypi.org`). */
  readonly indexOrigin: string;
  /** Every allowed origin: the index's, then the files hosts'. */
  readonly origins: readonly string[];
  /** Host names (bare) that may resolve to any address: the index's, and files hosts given as non-public IP literals. */
  private readonly trustedHosts: ReadonlySet<string>;
  readonly resolve: HostResolver | undefined;

  private constructor(indexOrigin: string, filesOrigins: string[], resolve: HostResolver | undefined, trustFiles: boolean) {
    this.indexOrigin = indexOrigin;
    this.origins = Object.freeze([...new Set([indexOrigin, ...filesOrigins])]);
    const trusted = new Set([bareHost(new URL(indexOrigin))]);
    for (const o of filesOrigins) {
      const h = bareHost(new URL(o));
      if (isIP(h) || trustFiles) trusted.add(h); // the operator named this very address
    }
    this.trustedHosts = trusted;
    this.resolve = resolve;
    Object.freeze(this);
  }

  /** The policy of index `indexUrl` (validated; `PYTI_CONFIG_INVALID` for a bad URL or files host). */
  static forIndex(indexUrl: string, opts: FetchPolicyOptions = {}): FetchPolicy {
    const index = new URL(normalizeIndexUrl(indexUrl));
    const files = opts.filesHosts ?? (index.hostname === 'pypi.org' ? [PYPI_FILES_HOST] : []);
    return new FetchPolicy(index.origin, files.map(parseFilesHost), opts.resolve, opts.trustFilesHosts ?? false);
  }

  /** Whether `url` is on an allowed origin. */
  allowsUrl(url: string | URL): boolean {
    try {
      return this.origins.includes(originOf(url));
    } catch {
      return false;
    }
  }

  /**
   * Throws `PYTI_INDEX_HOST_REFUSED` (naming the target and `why`, e.g. `redirect from …`) unless
   * `url` is http(s) on an allowed origin.
   */
  checkUrl(url: string, why: string): URL {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new PytiError('PYTI_INDEX_HOST_REFUSED', `${why}: ${JSON.stringify(url.slice(0, 300))} is not a URL`);
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !this.origins.includes(u.origin)) {
      throw new PytiError('PYTI_INDEX_HOST_REFUSED',
        `${why}: ${u.origin === 'null' ? u.protocol : u.origin} is not the index or one of its files hosts (${this.origins.join(', ')}; --files-host adds one)`);
    }
    return u;
  }

  /** Whether connections to `host` (bare) skip the address check. */
  trustsHost(host: string): boolean {
    return this.trustedHosts.has(host.toLowerCase());
  }

  /** Throws `PYTI_INDEX_HOST_REFUSED` when `host` (for `url`) resolved to a non-public `address` and is not trusted. */
  checkAddress(host: string, address: string, url: string): void {
    if (this.trustsHost(host) || !isNonPublicAddress(address)) return;
    throw new PytiError('PYTI_INDEX_HOST_REFUSED',
      `${url}: ${host} resolves to ${address}, a loopback, link-local or private address; PyTI fetches from there only for the index's own host or a files host given as that address`);
  }
}
