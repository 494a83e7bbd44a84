/**
 * The test index's distribution files, read from the files themselves (core metadata through
 * `validateDist`, digests, size). What the index currently serves is `IndexState` (index-state.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { validateDist } from '@pyti/common';
import { blake2bHex } from './blake2b.js';
import { normalizeName } from './names.js';

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
  /** ISO 8601 upload time with microseconds like pypi.org's: the file's modification time until it is published, then the publication time. */
  uploadTime: string;
  /** Path of the file's URL on the index (under /packages/). */
  urlPath: string;
}

/** `ms` (since the epoch) as pypi.org writes upload times: ISO 8601 UTC with microseconds. */
export function isoMicros(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
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
  const mtime = isoMicros(statSync(abs).mtime.getTime());
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
