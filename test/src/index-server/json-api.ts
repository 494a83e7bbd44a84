/**
 * The PyPI JSON API documents (`/pypi/<project>/json`, `/pypi/<project>/<version>/json`), shaped like
 * pypi.org's: `info` from the distributions' core metadata, `urls` with digests, `releases`; a
 * yanked release has `yanked: true` and `yanked_reason` (null when none was given) in `info` and
 * on each of its files, as warehouse's `legacy/api/json.py` writes them.
 */
import type { IndexedFile } from './catalog.js';
import type { IndexedRelease } from './index-state.js';

/** A file as the JSON API lists it, with its release (yank state) and the digests the index publishes. */
export interface JsonFileEntry {
  file: IndexedFile;
  release: IndexedRelease;
  url: string;
  digests: { sha256: string; md5: string; blake2b_256: string };
}

function urlEntry(e: JsonFileEntry): Record<string, unknown> {
  const f = e.file;
  return {
    comment_text: '',
    digests: { blake2b_256: e.digests.blake2b_256, md5: e.digests.md5, sha256: e.digests.sha256 },
    downloads: -1,
    filename: f.filename,
    has_sig: false,
    md5_digest: e.digests.md5,
    packagetype: f.packagetype,
    python_version: f.pythonVersion,
    requires_python: f.requiresPython,
    size: f.size,
    upload_time: f.uploadTime.replace(/\.\d+Z$/, ''),
    upload_time_iso_8601: f.uploadTime,
    url: e.url,
    yanked: e.release.yanked,
    yanked_reason: e.release.yanked ? e.release.yankedReason : null,
  };
}

/** `info` for a release: metadata from its wheel when it has one (else its sdist, else its first upload). */
function info(baseUrl: string, release: IndexedRelease, files: IndexedFile[]): Record<string, unknown> {
  const f = files.find((x) => x.kind === 'wheel') ?? files[0] ?? release.meta;
  const extras = [...new Set(f.requiresDist.flatMap((r) => [...r.matchAll(/extra\s*==\s*["']([^"']+)["']/g)].map((m) => m[1]!)))];
  return {
    author: null, author_email: null, bugtrack_url: null, classifiers: [], description: '', description_content_type: null,
    docs_url: null, download_url: null, downloads: { last_day: -1, last_month: -1, last_week: -1 }, home_page: null,
    keywords: null, license: null, maintainer: null, maintainer_email: null,
    name: f.name,
    package_url: `${baseUrl}/project/${f.name}/`,
    platform: null,
    project_url: `${baseUrl}/project/${f.name}/`,
    project_urls: null,
    provides_extra: extras.length ? extras : null,
    release_url: `${baseUrl}/project/${f.name}/${f.version}/`,
    requires_dist: f.requiresDist.length ? f.requiresDist : null,
    requires_python: f.requiresPython,
    summary: f.summary,
    version: f.version,
    yanked: release.yanked,
    yanked_reason: release.yanked ? release.yankedReason : null,
  };
}

/**
 * The document for one release (`/pypi/<project>/<version>/json`); `entries` are that release's
 * files; `serial` is the project's last serial.
 */
export function releaseDocument(baseUrl: string, release: IndexedRelease, entries: JsonFileEntry[], serial: number): Record<string, unknown> {
  return { info: info(baseUrl, release, entries.map((e) => e.file)), last_serial: serial, urls: entries.map(urlEntry), vulnerabilities: [] };
}

/**
 * The document for a project (`/pypi/<project>/json`): the latest release plus `releases` for every
 * release, ascending (a release without files lists `[]`, as pypi.org does).
 */
export function projectDocument(baseUrl: string, latest: IndexedRelease, entries: JsonFileEntry[], releases: IndexedRelease[], serial: number): Record<string, unknown> {
  const all: Record<string, unknown[]> = {};
  for (const r of releases) all[r.version] = entries.filter((e) => e.release === r).map(urlEntry);
  return { ...releaseDocument(baseUrl, latest, entries.filter((e) => e.release === latest), serial), releases: all };
}
