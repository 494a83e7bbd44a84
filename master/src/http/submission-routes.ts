/**
 * Seed submissions (several audits in one go):
 *
 *   POST /api/v1/submissions/zip?filename=F.zip&priority=P&backend=B   body: the zip (application/zip or
 *        application/octet-stream) → 202 SubmissionView: one audit per project directory or distribution in it
 *   POST /api/v1/submissions/git   body {repo, ref, priority?, backend?} → 202 SubmissionView: one audit of the ref's commit
 *   GET  /api/v1/submissions/:id   → SubmissionView
 *   GET  /submissions/:id          the page
 *
 * Errors: 400 PYTI_SUBMISSION_INVALID (naming the field or zip entry), PYTI_INPUT_* (a bad zip or
 * distribution: unsafe names, links, bombs, missing metadata), 413 PYTI_INPUT_TOO_LARGE (the body),
 * PYTI_GIT_* (the repository could not be read), 404 PYTI_SUBMISSION_NOT_FOUND. Nothing is queued
 * unless every item is ready.
 */
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PytiError } from '@pyti/vm-agent';
import { BlobTooLargeError, discardTemp, type BlobStore } from '../blobs/blob-store.js';
import type { Db } from '../db/database.js';
import type { JobQueue } from '../queue/job-queue.js';
import { GitOneOff } from '../submissions/git-oneoff.js';
import { SubmissionStore } from '../submissions/submission-store.js';
import { ZipSubmitter } from '../submissions/zip-submission.js';
import { renderSubmissionPage } from '../web/submission-page.js';
import { sendApiError } from './body.js';
import { BadRequestError, checkBackend, checkPriority } from './request-checks.js';
import type { Access } from './user-auth.js';

export interface SubmissionRoutesOptions {
  db: Db;
  queue: JobQueue;
  blobs: BlobStore;
  dataDir: string;
  maxUploadBytes: number;
  guard: (access: Access) => (req: never, reply: never) => Promise<void>;
  /** Git time limits (tests). */
  fetchTimeoutMs?: number;
  gitTimeoutMs?: number;
}

const ZIP_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}\.zip$/;

const STATUS: Record<string, number> = {
  PYTI_SUBMISSION_NOT_FOUND: 404, PYTI_SUBMISSION_INVALID: 400, PYTI_GIT_TOO_LARGE: 413, PYTI_GIT_TIMEOUT: 504, PYTI_GIT_FAILED: 500,
};

function answerError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof PytiError) return sendApiError(reply, STATUS[err.code] ?? (err.code === 'PYTI_DB_SCHEMA' ? 500 : 400), err.code, err.message);
  throw err;
}

export async function submissionRoutes(app: FastifyInstance, opts: SubmissionRoutesOptions): Promise<void> {
  const store = new SubmissionStore(opts.db, opts.queue, opts.queue.clock);
  const abort = new AbortController();
  app.addHook('onClose', async () => abort.abort());
  const gitDir = join(opts.dataDir, 'git');
  const git = new GitOneOff({
    queue: opts.queue, blobs: opts.blobs, store, mirrorsDir: gitDir, maxArchiveBytes: opts.maxUploadBytes,
    fetchTimeoutMs: opts.fetchTimeoutMs, gitTimeoutMs: opts.gitTimeoutMs, signal: abort.signal,
  });
  const zips = new ZipSubmitter({ queue: opts.queue, blobs: opts.blobs, store, clock: opts.queue.clock, gitDir, maxItemBytes: opts.maxUploadBytes });
  const write = { preHandler: opts.guard('write') as never };
  const read = { preHandler: opts.guard('read') as never };
  for (const type of ['application/octet-stream', 'application/zip']) {
    if (!app.hasContentTypeParser(type)) app.addContentTypeParser(type, (_req, payload, done) => done(null, payload));
  }

  app.post<{ Querystring: Record<string, string | undefined> }>('/api/v1/submissions/zip', write, async (req, reply) => {
    const filename = req.query.filename ?? '';
    if (!ZIP_NAME.test(filename)) throw new BadRequestError('filename', 'must be the zip\'s file name (letters, digits, . _ + -, ending .zip)');
    const priority = checkPriority(req.query.priority);
    const backend = checkBackend(req.query.backend);
    if (!req.body || typeof (req.body as Readable).pipe !== 'function') throw new BadRequestError('body', 'send the zip\'s bytes with Content-Type: application/zip');
    let temp;
    try {
      temp = await opts.blobs.writeTemp(req.body as Readable, opts.maxUploadBytes, opts.blobs.tempPath(filename));
    } catch (err) {
      if (err instanceof BlobTooLargeError) return sendApiError(reply, 413, 'PYTI_INPUT_TOO_LARGE', `${filename}: larger than the ${opts.maxUploadBytes}-byte upload limit`);
      throw err;
    }
    try {
      return reply.code(202).send(await zips.submit(temp.path, filename, temp.sizeBytes, { priority, backend }));
    } catch (err) {
      return answerError(reply, err);
    } finally {
      discardTemp(temp.path);
    }
  });

  app.post('/api/v1/submissions/git', write, async (req, reply) => {
    const b = req.body;
    if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new BadRequestError('body', 'must be a JSON object {repo, ref, priority?, backend?}');
    const o = b as Record<string, unknown>;
    const priority = checkPriority(o.priority);
    const backend = checkBackend(o.backend);
    try {
      return reply.code(202).send(await git.submit({ repo: o.repo as string, ref: o.ref as string, priority, backend }));
    } catch (err) {
      return answerError(reply, err);
    }
  });

  app.get<{ Params: { id: string } }>('/api/v1/submissions/:id', read, async (req, reply) => {
    try {
      return store.get(req.params.id);
    } catch (err) {
      return answerError(reply, err);
    }
  });
  app.get<{ Params: { id: string } }>('/submissions/:id', read, async (req, reply) => {
    try {
      return reply.type('text/html; charset=utf-8').send(renderSubmissionPage(store.get(req.params.id), opts.queue.clock.now()));
    } catch (err) {
      return answerError(reply, err);
    }
  });
}
