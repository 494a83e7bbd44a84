/**
 * `POST /api/v1/audits/upload?filename=F&priority=P&backend=B[&force=1]`: the body is the distribution's bytes.
 * They are streamed to a temp file named F (capped at the configured maximum), validated as a wheel
 * or .tar.gz sdist with metadata by `validateDist` (a malformed or hostile archive is a 400 with its
 * PYTI_INPUT_* code, and nothing is stored or queued), checked to be named after its own metadata's
 * project and version (400 PYTI_UPLOAD_NAME_MISMATCH otherwise) with a valid PEP 440 version
 * (400 PYTI_INPUT_BAD_VERSION), then kept as a blob and queued; when the
 * same bytes were already audited on the same backend (queued, running or done, not failed) and `force`
 * is not set, that audit is returned instead (200, `reused: true`).
 * The token is checked before the body is read (api-write-auth.ts); the body is capped at
 * --max-upload-bytes (413 PYTI_INPUT_TOO_LARGE, connection closed).
 */
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PytiError } from '@pyti/vm-agent';
import { checkPep440Version, validateDist } from '@pyti/common';
import { BlobTooLargeError, discardTemp, type BlobStore } from '../blobs/blob-store.js';
import type { JobQueue } from '../queue/job-queue.js';
import { sendApiError } from './body.js';
import { BadRequestError, DIST_FILENAME, checkBackend, checkForceQuery, checkPriority } from './request-checks.js';
import { checkUploadName } from './upload-name-check.js';
import type { Access } from './user-auth.js';

export interface UploadRouteOptions {
  queue: JobQueue;
  blobs: BlobStore;
  maxUploadBytes: number;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
}

export async function uploadRoute(app: FastifyInstance, opts: UploadRouteOptions): Promise<void> {
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  // An upload announced above the limit is refused before it is read (after the token check).
  const announcedTooLarge = async (req: FastifyRequest, reply: FastifyReply) => {
    if (Number(req.headers['content-length'] ?? 0) <= opts.maxUploadBytes) return;
    await sendApiError(reply.header('connection', 'close'), 413, 'PYTI_INPUT_TOO_LARGE', `the upload is larger than the ${opts.maxUploadBytes}-byte limit`);
  };
  app.post<{ Querystring: Record<string, string | undefined> }>('/api/v1/audits/upload', { onRequest: announcedTooLarge, preHandler: opts.guard('write') as never }, async (req, reply) => {
    const filename = req.query.filename ?? '';
    if (!DIST_FILENAME.test(filename)) throw new BadRequestError('filename', 'must be the distribution\'s .whl or .tar.gz file name');
    const priority = checkPriority(req.query.priority);
    const backend = checkBackend(req.query.backend);
    const force = checkForceQuery(req.query.force);
    if (!req.body || typeof (req.body as Readable).pipe !== 'function') {
      throw new BadRequestError('body', 'send the distribution\'s bytes with Content-Type: application/octet-stream');
    }
    let temp;
    try {
      temp = await opts.blobs.writeTemp(req.body as Readable, opts.maxUploadBytes, opts.blobs.tempPath(filename));
    } catch (err) {
      if (err instanceof BlobTooLargeError) return sendApiError(reply.header('connection', 'close'), 413, 'PYTI_INPUT_TOO_LARGE', `${filename}: larger than the ${opts.maxUploadBytes}-byte upload limit`);
      throw err;
    }
    let dist;
    try {
      dist = await validateDist(temp.path);
      checkPep440Version(dist.version, filename);
      checkUploadName(filename, dist);
    } catch (err) {
      discardTemp(temp.path);
      if (err instanceof PytiError) return sendApiError(reply, 400, err.code, err.message.split(temp.path).join(filename));
      throw err;
    }
    opts.blobs.adopt(temp);
    // One audit per file: the same bytes on the same backend return their audit (200, reused) unless forced (&force=1).
    const { audit, reused } = opts.queue.submitOnce({
      source: { kind: 'upload', project: dist.name, version: dist.version, filename, sha256: temp.sha256, sizeBytes: temp.sizeBytes },
      priority,
      backend,
    }, { force });
    return reply.code(reused ? 200 : 202).send({ ...audit, reused });
  });
}
