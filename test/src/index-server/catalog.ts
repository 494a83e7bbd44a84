/**
 * The test index's catalog: the distributions it serves, read from the files themselves (core
 * metadata through `validateDist`, digests, size, upload time), grouped by normalized project name.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { validateDist } from '@pyti/slave';
import { blake2bHex } from './blake2b.js';
import { compareVersions, isPrerelease, normalizeName } from './names.js';

/** One distribution file as the index publishes it. */
export interface IndexedFile {
  path: string;
  filename: string;
  /** PEP 503 normalized project name. */
  project: string;
  /** The name as the metadata spells it. */
  name: string;
  version: string;
  kind: 'sdist' | 'wheel';
  /** pypi.org's `packagetype`. */
  packagetype: 'sdist' | 'bdist_wheel';
  /** pypi.org's `python_version`: the wheel's Python tag, or `source`. */
  pythonVersion: string;
  summary: string | null;
  requiresPython: string | null;
  requiresDist: string[];
  size: number;
  /** The true digests of the file's bytes. */
  digests: { sha256: string; md5: string; blake2b_256: string };
  /** ISO 8601 upload time (the file's modification time), with microseconds like pypi.org's. */
  uploadTime: string;
  /** Path of the file's URL on the index (under /packages/). */
  urlPath: string;
}

/** Reads one distribution; throws a clear error when it is not a valid sdist or wheel. */
export async function indexFile(path: string): Promise<IndexedFile> {
  const abs = resolve(path);
  let dist;
  try {
    dist = await validateDist(abs);
  } catch (err) {
    throw new Error(`test index: cannot serve ${path}: ${(err as Error).message}`, { cause: err });
  }
  const bytes = readFileSync(abs);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const kind = dist.kind;
  const tags = kind === 'wheel' ? dist.filename.slice(0, -4).split('-') : [];
  const mtime = statSync(abs).mtime.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  return {
    path: abs,
    filename: dist.filename,
    project: normalizeName(dist.name),
    name: dist.name,
    version: dist.version,
    kind,
    packagetype: kind === 'wheel' ? 'bdist_wheel' : 'sdist',
    pythonVersion: kind === 'wheel' ? (tags[tags.length - 3] ?? 'py3') : 'source',
    summary: dist.summary ?? null,
    requiresPython: dist.requiresPython ?? null,
    requiresDist: dist.requiresDist,
    size: bytes.length,
    digests: { sha256, md5: createHash('md5').update(bytes).digest('hex'), blake2b_256: blake2bHex(bytes, 32) },
    uploadTime: mtime,
    urlPath: `/packages/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}/${encodeURIComponent(dist.filename)}`,
  };
}

/** The set of files an index serves, with lookups by project, version and URL path. */
export class Catalog {
  private readonly byFilename = new Map<string, IndexedFile>();

  /** Adds a file; a second file with the same name must have the same content. */
  add(file: IndexedFile): void {
    const old = this.byFilename.get(file.filename);
    if (old && old.digests.sha256 !== file.digests.sha256) {
      throw new Error(`test index: ${file.filename} is already served with different content (${old.path})`);
    }
    this.byFilename.set(file.filename, file);
  }

  /** Whether a file of that name is served. */
  has(filename: string): boolean {
    return this.byFilename.has(filename);
  }

  /** Normalized names of all projects, sorted. */
  projects(): string[] {
    return [...new Set([...this.byFilename.values()].map((f) => f.project))].sort();
  }

  /** The files of a project (normalized name), sorted by version then filename. */
  files(project: string): IndexedFile[] {
    return [...this.byFilename.values()]
      .filter((f) => f.project === project)
      .sort((a, b) => compareVersions(a.version, b.version) || a.filename.localeCompare(b.filename));
  }

  /** The project's versions, ascending. */
  versions(project: string): string[] {
    return [...new Set(this.files(project).map((f) => f.version))];
  }

  /** The version pypi.org would call the latest: the highest final release, else the highest version. */
  latest(project: string): string | undefined {
    const all = this.versions(project);
    return all.filter((v) => !isPrerelease(v)).pop() ?? all[all.length - 1];
  }

  /** The file whose URL path is `urlPath`. */
  byUrlPath(urlPath: string): IndexedFile | undefined {
    for (const f of this.byFilename.values()) if (f.urlPath === urlPath) return f;
    return undefined;
  }
}
