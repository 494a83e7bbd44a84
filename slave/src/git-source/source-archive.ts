/**
 * A git job's source archive on the slave: the master's `git archive --format=tar.gz --prefix=source/`
 * of the commit, fetched from the master as a blob and checked before anything reads it further.
 *
 * Security: the file name on the host is fixed (`source.tar.gz`), never taken from the master; the
 * bytes must hash to the sha256 the lease names (CommandClient.getBlob) and be no larger than its
 * size; then the archive is checked like an sdist (validateTarGz: no absolute or climbing paths, no
 * links out of the tree, no devices, size, count and ratio limits) with every member under the one
 * top-level directory `source/`. Nothing is extracted on the host: it is unpacked inside the build
 * sandbox (sdist-build.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandClient } from '../command/command-client.js';
import { outsidePrefix, type AuditSource, validateTarGz, type ValidatedTarGz } from '@pyti/common';

/** The source of a git job, as leased. */
export type GitJobSource = Extract<AuditSource, { kind: 'git' }>;

/** The archive's file name in its directory (also its name inside the build sandbox, under /in). */
export const SOURCE_ARCHIVE_NAME = 'source.tar.gz';

/** Fetches the archive of `source` into `dir` (created; it holds nothing else) and checks it. */
export async function fetchSourceArchive(client: Pick<CommandClient, 'getBlob'>, source: GitJobSource, dir: string, signal?: AbortSignal): Promise<ValidatedTarGz> {
  mkdirSync(dir, { recursive: true });
  const dest = join(dir, SOURCE_ARCHIVE_NAME);
  await client.getBlob(source.archive.sha256, dest, { signal, maxBytes: source.archive.sizeBytes });
  return validateTarGz(dest, undefined, outsidePrefix);
}
