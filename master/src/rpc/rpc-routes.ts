/**
 * The command API's HTTP routes (a Fastify plugin): `POST /rpc/v1` (JSON-RPC 2.0, one request per
 * body, capped at COMMAND_LIMITS.maxRpcBodyBytes: a bigger one is answered 413 with a JSON-RPC error
 * `tooLarge` and data.code `PYTI_INPUT_TOO_LARGE`, then the connection is closed) and the blob endpoints
 * `PUT|GET /rpc/v1/blobs/:sha256`. Every route needs a slave token (HTTP 401 and `PYTI_AUTH`
 * otherwise), checked before the body is read.
 */
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JSONRPCServer } from 'json-rpc-2.0';
import { PytiError } from '@pyti/vm-agent';
import { COMMAND_BLOB_PATH, COMMAND_LIMITS, COMMAND_RPC_PATH, CommandErrorCodes } from '@pyti/common';
import { bearerToken, type TokenAuthority } from '../auth.js';
import { BlobTooLargeError, SHA256_HEX, type BlobStore } from '../blobs/blob-store.js';
import type { JobQueue } from '../queue/job-queue.js';
import { BodyTooLargeError, readCapped, sendApiError } from '../http/body.js';
import { handleRpcBody, rpcError, type RpcContext } from './command-server.js';
import { STORAGE_FULL_STATUS } from '../storage/storage-full.js';

export interface RpcRoutesOptions {
  auth: TokenAuthority;
  server: JSONRPCServer<RpcContext>;
  queue: JobQueue;
  blobs: BlobStore;
}

/** Registers the command API on `app` (in its own encapsulated context: raw bodies, own parsers). */
export async function rpcRoutes(app: FastifyInstance, opts: RpcRoutesOptions): Promise<void> {
  const slaveOf = new WeakMap<FastifyRequest, string>();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  app.addHook('onRequest', async (req, reply) => {
    const slave = opts.auth.slaveFor(bearerToken(req.headers.authorization));
    if (slave === null) {
      const message = 'a valid slave token is required (Authorization: Bearer <token>)';
      if (req.url.startsWith(COMMAND_BLOB_PATH)) return sendApiError(reply, 401, 'PYTI_AUTH', message);
      return reply.code(401).send(rpcError(null, CommandErrorCodes.unauthorized, message, 'PYTI_AUTH'));
    }
    slaveOf.set(req, slave);
    // A body announced above its cap is refused before it is read (the connection then closes).
    const declared = Number(req.headers['content-length'] ?? NaN);
    const path = req.url.split('?')[0]!;
    if (path === COMMAND_RPC_PATH && declared > COMMAND_LIMITS.maxRpcBodyBytes) {
      const err = new BodyTooLargeError(COMMAND_LIMITS.maxRpcBodyBytes);
      return reply.code(413).header('connection', 'close').send(rpcError(null, CommandErrorCodes.tooLarge, err.message, 'PYTI_INPUT_TOO_LARGE'));
    }
    if (path.startsWith(`${COMMAND_BLOB_PATH}/`) && req.method === 'PUT' && declared > COMMAND_LIMITS.maxBlobBytes) {
      return sendApiError(reply.header('connection', 'close'), 413, 'PYTI_BLOB_MISMATCH', `the blob is larger than ${COMMAND_LIMITS.maxBlobBytes} bytes`);
    }
  });

  app.post(COMMAND_RPC_PATH, async (req, reply) => {
    let body: Buffer;
    try {
      body = await readCapped(req.body as Readable | undefined, COMMAND_LIMITS.maxRpcBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        return reply.code(413).header('connection', 'close').send(rpcError(null, CommandErrorCodes.tooLarge, err.message, 'PYTI_INPUT_TOO_LARGE'));
      }
      throw err;
    }
    const res = await handleRpcBody(opts.server, body.toString('utf8'), { slave: slaveOf.get(req)! });
    if (res === null) return reply.code(204).send();
    // A full disk is the master's trouble, not the call's: HTTP 507 makes the slave retry it later
    // (a JSON-RPC error in a 200 would be final, and a finished result would be dropped).
    const full = (res.error?.data as { code?: unknown } | undefined)?.code === 'PYTI_STORAGE_FULL';
    return reply.code(full ? STORAGE_FULL_STATUS : 200).type('application/json; charset=utf-8').send(res);
  });

  app.put<{ Params: { sha256: string } }>(`${COMMAND_BLOB_PATH}/:sha256`, async (req, reply) => {
    const { sha256 } = req.params;
    if (!SHA256_HEX.test(sha256)) return sendApiError(reply, 400, 'PYTI_BLOB_MISMATCH', 'the blob name must be a lower-case hex sha256');
    try {
      const put = await opts.blobs.put(req.body as Readable, COMMAND_LIMITS.maxBlobBytes, sha256);
      return reply.code(put.created ? 201 : 200).send({ sha256: put.sha256, sizeBytes: put.sizeBytes, stored: put.created });
    } catch (err) {
      if (err instanceof BlobTooLargeError) return sendApiError(reply, 413, err.code, err.message);
      if (err instanceof PytiError) return sendApiError(reply, 400, err.code, err.message);
      throw err;
    }
  });

  app.get<{ Params: { sha256: string } }>(`${COMMAND_BLOB_PATH}/:sha256`, async (req, reply) => {
    const { sha256 } = req.params;
    const slave = slaveOf.get(req)!;
    const size = SHA256_HEX.test(sha256) ? opts.blobs.sizeOf(sha256) : null;
    // Slaves may fetch the uploaded distributions of jobs they leased, nothing else.
    if (size === null || !opts.queue.mayFetchUpload(slave, sha256)) {
      return sendApiError(reply, 404, 'PYTI_JOB_NOT_FOUND', `no uploaded distribution ${sha256.slice(0, 64)} for a job this slave leased`);
    }
    return reply.type('application/octet-stream').header('content-length', size).send(opts.blobs.open(sha256));
  });
}
