/**
 * The master's HTTP limits, as Fastify server options (documented defaults in MASTER_DEFAULTS):
 *
 * - `requestTimeout` (`--request-timeout-ms`, default 120 s): the whole request, headers and body,
 *   must arrive within it (checked every second), or Node answers 408 and closes the connection; a
 *   client sending its body slowly cannot hold a connection longer. Uploads larger than ~1 MB/s × this need a larger value.
 * - `connectionTimeout` (`--idle-timeout-ms`, default --max-wait-ms + 30 s): a connection with no
 *   traffic for this long is closed; it is longer than the longest `jobs.lease` long-poll.
 * - `keepAliveTimeout` (`--keep-alive-timeout-ms`, default 5 s): an idle kept-alive connection is closed.
 * - `bodyLimit` 1 MiB for JSON bodies (user API); routes set their own: form posts 4 KiB, uploads
 *   --max-upload-bytes (streamed), the command API 16 MiB (COMMAND_LIMITS.maxRpcBodyBytes) and
 *   256 MiB blobs.
 */
import type { MasterConfig } from '../config.js';

/** Largest JSON body of the user API. */
export const USER_API_BODY_LIMIT = 1024 * 1024;

export function httpLimits(config: Pick<MasterConfig, 'requestTimeoutMs' | 'idleTimeoutMs' | 'keepAliveTimeoutMs'>) {
  return {
    bodyLimit: USER_API_BODY_LIMIT,
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.idleTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Node reads the request timeout only when the server is created (Fastify's own setting, made
    // after, is not enforced), and checks it on this period (its default, 30 s, would let a slow body
    // outlive --request-timeout-ms by up to 30 s).
    http: {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(60_000, config.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(1000, config.requestTimeoutMs),
    },
  };
}
