/** Request bodies read as streams, with caps, and the user API's error replies. */
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { PytiError } from '@pyti/vm-agent';
import type { ApiErrorBody } from '../user-api.js';
import { STORAGE_FULL_STATUS } from '../storage/storage-full.js';

/** A body above its cap. */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the request body is larger than ${maxBytes} bytes`);
  }
}

/** Reads a whole body into memory, refusing more than `maxBytes`. */
export async function readCapped(stream: Readable | Buffer | string | undefined, maxBytes: number): Promise<Buffer> {
  if (stream === undefined) return Buffer.alloc(0);
  if (typeof stream === 'string' || Buffer.isBuffer(stream)) {
    const b = Buffer.from(stream);
    if (b.length > maxBytes) throw new BodyTooLargeError(maxBytes);
    return b;
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      // The rest is read and dropped (not reset), so the client gets the 413; the caller's
      // `Connection: close` and the request timeout bound how long that takes.
      stream.off('data', onData);
      stream.resume();
      chunks.length = 0;
      reject(new BodyTooLargeError(maxBytes));
    };
    stream.on('data', onData);
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** Sends `{ error: { code, message } }`. */
export function sendApiError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  const body: ApiErrorBody = { error: { code, message } };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** HTTP status of a PYTI error code in the user and blob APIs. */
export function statusOf(err: PytiError): number {
  switch (err.code) {
    case 'PYTI_AUTH': return 401;
    case 'PYTI_JOB_NOT_FOUND': return 404;
    case 'PYTI_RAW_PRUNED': return 410;
    case 'PYTI_DB_SCHEMA': return 500;
    case 'PYTI_MASTER_INTERNAL': return 500;
    case 'PYTI_STORAGE_FULL': return STORAGE_FULL_STATUS;
    default: return 400;
  }
}
