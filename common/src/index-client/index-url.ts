/**
 * The package index's base URL and the names that go into its URLs.
 *
 * Security: project names and versions come from users (through the master) and are checked against
 * PEP 508 / PEP 440 character sets before they become URL path segments, and are URL-encoded anyway;
 * the index must be http or https and carry no credentials (they would end up in logs).
 */
import { PytiError } from '@pyti/vm-agent';

/** pypi.org: the default index. */
export const DEFAULT_INDEX_URL = 'https://pypi.org';

/** Checks an index base URL (`https://pypi.org`, `http://127.0.0.1:8123`); returns it without a trailing slash. */
export function normalizeIndexUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PytiError('PYTI_CONFIG_INVALID', `index URL ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PytiError('PYTI_CONFIG_INVALID', `index URL ${url} is not http or https`);
  if (u.username || u.password) throw new PytiError('PYTI_CONFIG_INVALID', `index URL must not carry credentials`);
  if (u.search || u.hash) throw new PytiError('PYTI_CONFIG_INVALID', `index URL ${url} must not have a query or fragment`);
  return u.toString().replace(/\/+$/, '');
}

/** The PEP 503 Simple API root of an index base, for pip's `--index-url`. */
export function simpleUrl(indexUrl: string): string {
  return `${indexUrl}/simple/`;
}

/** Where an index's two APIs are: the base of the JSON API (`/pypi/…`) and the Simple API root (pip's `--index-url`). */
export interface IndexLocation {
  /** No trailing slash: `https://pypi.org`. */
  indexUrl: string;
  /** With a trailing slash: `https://pypi.org/simple/`. */
  simpleUrl: string;
}

/**
 * An index given either as its base (`https://pypi.org`, `http://127.0.0.1:8080`) or as its Simple
 * API root, as pip's `index-url` and `PIP_INDEX_URL` name it (`https://pypi.org/simple/`, devpi's
 * `…/+simple/`): a URL whose last path segment is `simple` or `+simple` is the Simple API root and
 * its parent the base; any other URL is the base, its Simple API at `<base>/simple/`.
 */
export function indexLocation(url: string): IndexLocation {
  const u = normalizeIndexUrl(url);
  const m = /^(.*)\/\+?simple$/.exec(u);
  if (m && new URL(u).pathname !== '/') return { indexUrl: normalizeIndexUrl(m[1]!), simpleUrl: `${u}/` };
  return { indexUrl: u, simpleUrl: simpleUrl(u) };
}

/** PEP 508 project name. */
export const PROJECT_NAME = /^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/;
/** Characters a PEP 440 version (also a non-normalised one) can contain. */
export const VERSION_TEXT = /^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,99}$/;

/** PEP 503 normalized name. */
export function normalizeProject(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** Throws PYTI_INDEX_NOT_FOUND unless `project` is a PEP 508 project name (at most 200 characters). */
export function checkProject(project: string): void {
  if (!PROJECT_NAME.test(project) || project.length > 200) throw new PytiError('PYTI_INDEX_NOT_FOUND', `${JSON.stringify(project)} is not a valid project name`);
}

/** `<index>/pypi/<project>/<version>/json`, after checking project and version. */
export function releaseJsonUrl(indexUrl: string, project: string, version: string): string {
  checkProject(project);
  if (!VERSION_TEXT.test(version)) throw new PytiError('PYTI_INDEX_NOT_FOUND', `${JSON.stringify(version)} is not a valid version`);
  return `${indexUrl}/pypi/${encodeURIComponent(normalizeProject(project))}/${encodeURIComponent(version)}/json`;
}

/** `<index>/pypi/<project>/json` (the project and its latest release), after checking the name. */
export function projectJsonUrl(indexUrl: string, project: string): string {
  checkProject(project);
  return `${indexUrl}/pypi/${encodeURIComponent(normalizeProject(project))}/json`;
}

/** `<simple root><normalized project>/`, after checking the name. */
export function projectSimpleUrl(simpleRoot: string, project: string): string {
  checkProject(project);
  return `${simpleRoot.replace(/\/*$/, '/')}${encodeURIComponent(normalizeProject(project))}/`;
}
