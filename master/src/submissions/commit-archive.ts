/**
 * A commit's source archive as a blob, as git subscriptions make it (commit-ingest.ts): `git archive
 * --format=tar.gz --prefix=source/` streamed into the blob store, capped at `maxBytes`
 * (PYTI_GIT_TOO_LARGE above it). The slave builds its sdist exactly as for a subscription's commit.
 */
import { GIT_ARCHIVE_PREFIX } from '@pyti/common';
import { BlobTooLargeError, discardTemp, type BlobStore, type TempBlob } from '../blobs/blob-store.js';
import { gitFailure, gitTooLarge } from '../git/git-errors.js';
import type { GitMirror } from '../git/git-mirror.js';

/** Stores `commit`'s archive; resolves to its blob's sha256 and size. Throws GitError. */
export async function archiveCommit(mirror: GitMirror, commit: string, blobs: BlobStore, maxBytes: number): Promise<{ sha256: string; sizeBytes: number }> {
  const p = mirror.archive(commit, GIT_ARCHIVE_PREFIX);
  let temp: TempBlob;
  try {
    temp = await blobs.writeTemp(p.stdout, maxBytes);
  } catch (err) {
    p.kill();
    await p.done;
    if (err instanceof BlobTooLargeError) throw gitTooLarge(`the archive of commit ${commit.slice(0, 12)}`, maxBytes);
    throw err;
  }
  const r = await p.done;
  if (r.code !== 0) {
    discardTemp(temp.path);
    throw gitFailure(`git archive of commit ${commit.slice(0, 12)}`, r, mirror.fetchTimeoutMs);
  }
  const put = blobs.adopt(temp);
  return { sha256: put.sha256, sizeBytes: put.sizeBytes };
}
