/**
 * The repository of a git subscription, checked before git ever sees it.
 *
 * Accepted: an absolute local path (`/srv/repos/app`, `/srv/repos/app.git`), a `file://`, `https://`,
 * `http://`, `ssh://` or `git://` URL, or scp-like `[user@]host:path` (ssh). Refused, with
 * PYTI_SUBSCRIPTION_INVALID naming the field `repo`: anything starting with `-` (git would read it as
 * an option, e.g. `--upload-pack=…`), git's transport-helper syntax `<transport>::<address>` (`ext::sh
 * -c …` runs a command, `fd::` reads descriptors), other URL schemes, relative paths, control
 * characters, surrounding white space, credentials in http(s) URLs (they would be shown by the API),
 * hosts or paths starting with `-`, and values longer than 1024 characters.
 *
 * Security: the check decides the one transport git may use for this repository (`protocol`): the
 * runner sets `protocol.allow=never` and allows only that one (git-command.ts), and passes the value
 * after `--`. This check is a first wall, not the only one.
 */
import { SubscriptionInvalidError } from '../subscriptions/subscription-errors.js';

/** The transports a git subscription may use (git's `protocol.<name>.allow`). */
export type GitProtocol = 'file' | 'https' | 'http' | 'ssh' | 'git';

/** A checked repository: the value as given and the one transport git may use for it. */
export interface CheckedRepo {
  repo: string;
  protocol: GitProtocol;
}

/** The longest repository value accepted. */
export const MAX_REPO_LENGTH = 1024;

const SCHEMES: Record<string, GitProtocol> = { 'file:': 'file', 'https:': 'https', 'http:': 'http', 'ssh:': 'ssh', 'git:': 'git' };
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\[[0-9A-Fa-f:.]+\]$/;
const SCP_LIKE = /^(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(.+)$/;

function invalid(why: string): never {
  throw new SubscriptionInvalidError('repo', why);
}

/** Checks a git subscription's repository (see the module comment); throws PYTI_SUBSCRIPTION_INVALID. */
export function checkRepo(v: unknown): CheckedRepo {
  if (typeof v !== 'string' || v.length === 0) invalid('must be a local path or a URL of a git repository');
  const show = JSON.stringify(v.slice(0, 80));
  if (v.length > MAX_REPO_LENGTH) invalid(`is longer than ${MAX_REPO_LENGTH} characters`);
  if (CONTROL.test(v)) invalid('has control characters');
  if (v.trim() !== v) invalid('starts or ends with white space');
  if (v.startsWith('-')) invalid(`${show} starts with "-" (git would read it as an option)`);
  const helper = v.indexOf('::');
  if (helper >= 0 && (v.indexOf('/') < 0 || helper < v.indexOf('/'))) invalid(`${show} uses git's <transport>::<address> syntax (ext::, fd:: and other transport helpers are not allowed)`);

  if (v.startsWith('/')) {
    if (v.split('/').includes('..')) invalid(`${show}: an absolute path without .. segments, please`);
    return { repo: v, protocol: 'file' };
  }

  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(v);
  if (scheme) {
    const protocol = SCHEMES[`${scheme[1]!.toLowerCase()}:`];
    if (!protocol) invalid(`${show}: the scheme ${scheme[1]}:// is not one of file, https, http, ssh, git`);
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      invalid(`${show} is not a well-formed URL`);
    }
    if (u.search || u.hash) invalid(`${show}: a repository URL has no query or fragment`);
    if (protocol === 'file') {
      if (u.host !== '' && u.host !== 'localhost') invalid(`${show}: file:// URLs name a local path (file:///path)`);
      if (!u.pathname.startsWith('/') || u.pathname === '/' || decodeURIComponent(u.pathname).split('/').includes('..')) invalid(`${show}: file:// needs an absolute path without .. segments`);
      return { repo: v, protocol };
    }
    const host = u.hostname;
    if (!host || host.startsWith('-') || !HOST.test(host)) invalid(`${show}: ${JSON.stringify(host.slice(0, 80))} is not a host name or address`);
    if ((protocol === 'https' || protocol === 'http') && (u.username || u.password)) invalid(`${show}: credentials in the URL would be shown to every reader of the subscription; use a URL without them`);
    if (u.password) invalid(`${show}: no password in the URL`);
    if (u.username.startsWith('-')) invalid(`${show}: the user name starts with "-"`);
    if (u.pathname.startsWith('/-') || u.pathname === '/' || u.pathname === '') invalid(`${show}: the path is missing or starts with "-"`);
    return { repo: v, protocol };
  }

  const scp = SCP_LIKE.exec(v);
  if (scp && !v.includes('://')) {
    const [, user, host, path] = scp;
    if (user?.startsWith('-') || host!.startsWith('-') || !HOST.test(host!)) invalid(`${show}: ${JSON.stringify(host)} is not a host name or address`);
    if (path!.startsWith('-')) invalid(`${show}: the path starts with "-"`);
    return { repo: v, protocol: 'ssh' };
  }
  return invalid(`${show} is not an absolute path, a file://, https://, http://, ssh:// or git:// URL, or user@host:path`);
}

/** The repository's base name, for a project name when its pyproject.toml does not give one (`app` for `…/app.git`). */
export function repoBaseName(repo: string): string {
  const last = repo.replace(/\/+$/, '').split(/[/:]/).pop() ?? '';
  const base = last.replace(/\.git$/, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return base.slice(0, 100) || 'repository';
}
