/**
 * The PyPI JSON API documents (`/pypi/<project>/json`, `/pypi/<project>/<version>/json`), shaped like
 * pypi.org's: `info` from the distributions' core metadata, `urls` with digests, `releases`.
 */
import type { IndexedFile } from './catalog.js';

/** A file as the JSON API lists it, with the digests the index publishes. */
export interface JsonFileEntry {
  file: IndexedFile;
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
    yanked: false,
    yanked_reason: null,
  };
}

/** `info` for a release: metadata from its wheel when it has one (else its sdist). */
function info(baseUrl: string, files: IndexedFile[]): Record<string, unknown> {
  const f = files.find((x) => x.kind === 'wheel') ?? files[0]!;
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
    yanked: false,
    yanked_reason: null,
  };
}

/** The document for one release (`/pypi/<project>/<version>/json`); `entries` are that version's files. */
export function releaseDocument(baseUrl: string, entries: JsonFileEntry[], serial: number): Record<string, unknown> {
  return { info: info(baseUrl, entries.map((e) => e.file)), last_serial: serial, urls: entries.map(urlEntry), vulnerabilities: [] };
}

/** The document for a project (`/pypi/<project>/json`): the latest release plus `releases` for every version. */
export function projectDocument(baseUrl: string, latest: string, entries: JsonFileEntry[], versions: string[], serial: number): Record<string, unknown> {
  const releases: Record<string, unknown[]> = {};
  for (const v of versions) releases[v] = entries.filter((e) => e.file.version === v).map(urlEntry);
  return { ...releaseDocument(baseUrl, entries.filter((e) => e.file.version === latest), serial), releases };
}
