/**
 * A project's page of the Simple API (`<simple>/<project>/`), as PEP 503 HTML or PEP 691 JSON: the
 * fallback for indexes without pypi.org's JSON API (a plain mirror, pypiserver, a static directory).
 *
 * Security: the page is untrusted. It is read size-capped by the caller; only anchors (HTML) or the
 * `files` array (JSON) are read, each field checked; a file whose name is not a safe distribution
 * file name (`safeDistFilename`) or not of this project is left out; URLs are resolved against the
 * page's URL and must be http or https; a hash other than a 64-digit hex sha256 is ignored (such a
 * file cannot be verified, and is then never chosen).
 */
import { PytiError } from '@pyti/vm-agent';
import { safeDistFilename } from './dist-filename.js';
import { normalizeProject, VERSION_TEXT } from './index-url.js';

/** One file a Simple API page lists. */
export interface SimpleFile {
  filename: string;
  /** Absolute http(s) URL, without the fragment. */
  url: string;
  /** The version, from the file name. */
  version: string;
  /** Lower-case hex sha256 from the page (`#sha256=` or PEP 691 `hashes`); absent when it publishes none. */
  sha256?: string;
  /** PEP 592: yanked files are skipped unless the version is pinned. */
  yanked: boolean;
  requiresPython?: string;
  /** `sdist` or `bdist_wheel`, from the file name. */
  packagetype: 'sdist' | 'bdist_wheel';
}

/** The Accept header pip sends: PEP 691 JSON preferred, then HTML. */
export const SIMPLE_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';

/** Most files read from one page. */
export const MAX_SIMPLE_FILES = 100_000;

function malformed(pageUrl: string, why: string): PytiError {
  return new PytiError('PYTI_INDEX_MALFORMED', `${pageUrl}: ${why}`);
}

/**
 * The version in a distribution file name of `project` (PEP 503-normalized comparison):
 * `name-ver(-build)?-py-abi-plat.whl` or `name-ver.tar.gz` / `.zip` (where a legacy name may itself
 * contain `-`). Undefined when the file is not of this project.
 */
export function versionFromFilename(filename: string, project: string): string | undefined {
  const want = normalizeProject(project);
  if (filename.endsWith('.whl')) {
    const parts = filename.slice(0, -4).split('-');
    if (parts.length < 5 || parts.length > 6) return undefined;
    return normalizeProject(parts[0]!) === want ? parts[1] : undefined;
  }
  const stem = filename.replace(/\.(tar\.gz|zip)$/, '');
  if (stem === filename) return undefined;
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    if (normalizeProject(stem.slice(0, i)) === want) {
      const v = stem.slice(i + 1);
      return v ? v : undefined;
    }
  }
  return undefined;
}

/** Name and version from a distribution file name alone: a wheel's first two fields, an sdist split at its last `-`. */
export function parseDistFilename(filename: string): { project: string; version: string } | undefined {
  if (!safeDistFilename(filename)) return undefined;
  if (filename.endsWith('.whl')) {
    const parts = filename.slice(0, -4).split('-');
    if (parts.length < 5 || parts.length > 6 || !parts[0] || !parts[1]) return undefined;
    return { project: parts[0], version: parts[1] };
  }
  const stem = filename.replace(/\.(tar\.gz|zip)$/, '');
  const i = stem.lastIndexOf('-');
  if (i <= 0 || i === stem.length - 1) return undefined;
  return { project: stem.slice(0, i), version: stem.slice(i + 1) };
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decodes HTML character references (named basics, decimal, hex). */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});/gi, (m, e: string) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/** The attributes of one start tag's text (`a href="…" data-yanked`), names lower-cased, values decoded. */
function attributes(tag: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const m of tag.matchAll(re)) out.set(m[1]!.toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  return out;
}

interface RawEntry {
  filename: string;
  href: string;
  sha256?: string;
  yanked: boolean;
  requiresPython?: string;
}

function parseHtml(text: string): RawEntry[] {
  const out: RawEntry[] = [];
  for (const m of text.matchAll(/<a\s([^>]*)>([^<]*)<\/a\s*>/gi)) {
    if (out.length >= MAX_SIMPLE_FILES) break;
    const attrs = attributes(m[1]!);
    const href = attrs.get('href');
    if (href === undefined) continue;
    const frag = /#sha256=([0-9a-fA-F]{64})$/.exec(href);
    out.push({
      filename: decodeEntities(m[2]!).trim(),
      href,
      sha256: frag?.[1]?.toLowerCase(),
      yanked: attrs.has('data-yanked'),
      requiresPython: attrs.get('data-requires-python'),
    });
  }
  return out;
}

function parseJson(text: string, pageUrl: string): RawEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed(pageUrl, 'not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformed(pageUrl, 'not a JSON object');
  const files = (doc as { files?: unknown }).files;
  if (!Array.isArray(files)) throw malformed(pageUrl, '"files" is not an array');
  if (files.length > MAX_SIMPLE_FILES) throw malformed(pageUrl, `more than ${MAX_SIMPLE_FILES} files`);
  const out: RawEntry[] = [];
  for (const [i, e] of files.entries()) {
    if (typeof e !== 'object' || e === null) throw malformed(pageUrl, `files[${i}] is not an object`);
    const { filename, url, hashes, yanked } = e as Record<string, unknown>;
    const rp = (e as Record<string, unknown>)['requires-python'];
    if (typeof filename !== 'string' || typeof url !== 'string') throw malformed(pageUrl, `files[${i}] lacks filename or url`);
    const sha = typeof hashes === 'object' && hashes !== null ? (hashes as { sha256?: unknown }).sha256 : undefined;
    out.push({
      filename,
      href: url,
      sha256: typeof sha === 'string' && /^[0-9a-fA-F]{64}$/.test(sha) ? sha.toLowerCase() : undefined,
      yanked: yanked === true || (typeof yanked === 'string'),
      requiresPython: typeof rp === 'string' ? rp.slice(0, 200) : undefined,
    });
  }
  return out;
}

/**
 * The files of `project` on its Simple API page. `contentType` picks the format (PEP 691 JSON for
 * `application/vnd.pypi.simple.v1+json`, else HTML); `pageUrl` is the page's final URL (after
 * redirects), against which relative links resolve.
 */
export function simpleFiles(text: string, contentType: string, pageUrl: string, project: string): SimpleFile[] {
  const isJson = /^application\/vnd\.pypi\.simple\.v1\+json\b/i.test(contentType.trim());
  const raw = isJson ? parseJson(text, pageUrl) : parseHtml(text);
  const files: SimpleFile[] = [];
  for (const r of raw) {
    let abs: URL;
    try {
      abs = new URL(r.href, pageUrl);
    } catch {
      continue;
    }
    if (abs.protocol !== 'http:' && abs.protocol !== 'https:') continue;
    abs.hash = '';
    // PEP 503: the anchor's text is the file name; some static pages show something else, then the URL's last segment is.
    let filename = r.filename;
    if (!safeDistFilename(filename)) {
      try {
        filename = decodeURIComponent(abs.pathname.slice(abs.pathname.lastIndexOf('/') + 1));
      } catch {
        continue;
      }
      if (!safeDistFilename(filename)) continue;
    }
    const version = versionFromFilename(filename, project);
    if (version === undefined || !VERSION_TEXT.test(version)) continue;
    const f: SimpleFile = { filename, url: abs.toString(), version, yanked: r.yanked, packagetype: filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist' };
    if (r.sha256) f.sha256 = r.sha256;
    if (r.requiresPython) f.requiresPython = r.requiresPython;
    files.push(f);
  }
  return files;
}
