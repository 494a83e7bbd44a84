/**
 * The master's side of the command API: a `JSONRPCServer` whose per-request server params are the
 * authenticated slave, one handler per method of the shared method table (`CommandRequests`), and
 * the mapping of errors to JSON-RPC error objects whose `data.code` is the PYTI code.
 */
import {
  JSONRPCErrorCode, JSONRPCServer, createJSONRPCErrorResponse,
  type JSONRPCErrorResponse, type JSONRPCID, type JSONRPCRequest, type JSONRPCResponse,
} from 'json-rpc-2.0';
import { PytiError } from '@pyti/vm-agent';
import { CommandErrorCodes, type CommandMethod, type CommandResult } from '@pyti/common';
import type { BlobStore } from '../blobs/blob-store.js';
import type { JobQueue } from '../queue/job-queue.js';
import { LeaseLostError, NotRegisteredError } from '../queue/errors.js';
import { ReportRejectedError } from './report-consistency.js';
import type { SlavePools } from '../cluster/slave-pools.js';
import { InvalidParamsError, ProtocolVersionError, checkComplete, checkHeartbeat, checkLease, checkProgress, checkRegister } from './validate.js';
import { isStorageFull, storageFullError } from '../storage/storage-full.js';

/** A rejected report, answered to the slave with its evidence and whether the job went back to the queue. */
class RejectedReportError extends PytiError {
  readonly evidence: string[];
  constructor(err: ReportRejectedError, readonly requeued: boolean) {
    super(err.code, `${err.message}; ${requeued ? 'the job is retried on another slave' : 'the job has no attempt left'}`);
    this.evidence = err.evidence;
  }
}

/** Who is calling: the slave its token names. */
export interface RpcContext {
  slave: string;
}

export interface CommandServerOptions {
  leaseMs: number;
  heartbeatMs: number;
  maxWaitMs: number;
  /** Called with unexpected (non-PYTI) errors. */
  onError?: (err: unknown) => void;
  /** Where heartbeats' pools of ready VM guests are kept for the cluster page. */
  pools?: SlavePools;
}

/** A JSON-RPC error response with `data.code`. */
export function rpcError(id: JSONRPCID, code: number, message: string, pytiCode: string, extra: Record<string, unknown> = {}): JSONRPCErrorResponse {
  return createJSONRPCErrorResponse(id, code, message, { code: pytiCode, ...extra });
}

function mapError(id: JSONRPCID, err: unknown, onError?: (err: unknown) => void): JSONRPCErrorResponse {
  if (err instanceof RejectedReportError) return rpcError(id, -32000, err.message, err.code, { evidence: err.evidence, requeued: err.requeued });
  if (err instanceof InvalidParamsError) return rpcError(id, JSONRPCErrorCode.InvalidParams, err.message, err.code, { field: err.field });
  if (err instanceof ProtocolVersionError) return rpcError(id, CommandErrorCodes.protocolVersion, err.message, err.code);
  if (err instanceof LeaseLostError) return rpcError(id, CommandErrorCodes.leaseLost, err.message, err.code);
  if (err instanceof NotRegisteredError) return rpcError(id, CommandErrorCodes.notRegistered, err.message, err.code);
  if (isStorageFull(err)) return rpcError(id, -32000, storageFullError(err, 'the command API').message, 'PYTI_STORAGE_FULL');
  if (err instanceof PytiError) return rpcError(id, -32000, err.message, err.code);
  onError?.(err);
  return createJSONRPCErrorResponse(id, JSONRPCErrorCode.InternalError, 'internal error');
}

type Handler<M extends CommandMethod> = (params: unknown, ctx: RpcContext) => CommandResult<M> | Promise<CommandResult<M>>;

/** Builds the JSON-RPC server of the command API over `queue` and `blobs`. */
export function createCommandServer(queue: JobQueue, blobs: BlobStore, opts: CommandServerOptions): JSONRPCServer<RpcContext> {
  const server = new JSONRPCServer<RpcContext>({ errorListener: () => undefined });
  server.mapErrorToJSONRPCErrorResponse = (id, err) => mapError(id, err, opts.onError);
  server.handleMethodNotFound = async (request: JSONRPCRequest) => request.id === undefined
    ? null
    : rpcError(request.id, JSONRPCErrorCode.MethodNotFound, `unknown method ${JSON.stringify(String(request.method).slice(0, 80))}`, 'PYTI_RPC_INVALID');

  const add = <M extends CommandMethod>(method: M, handler: Handler<M>) => server.addMethod(method, handler);

  add('slave.register', (p, ctx) => {
    queue.register(ctx.slave, checkRegister(p));
    return { slave: ctx.slave, leaseMs: opts.leaseMs, heartbeatMs: opts.heartbeatMs, maxWaitMs: opts.maxWaitMs };
  });
  add('jobs.lease', async (p, ctx) => {
    const { max, waitMs } = checkLease(p);
    return { jobs: await queue.lease(ctx.slave, max, waitMs) };
  });
  add('slave.heartbeat', (p, ctx) => {
    const { leases, draining, pools } = checkHeartbeat(p);
    const result = queue.heartbeat(ctx.slave, leases, draining);
    opts.pools?.record(ctx.slave, pools, queue.clock.now());
    return result;
  });
  add('jobs.progress', (p, ctx) => {
    const { leaseId, events } = checkProgress(p);
    return queue.progress(ctx.slave, leaseId, events);
  });
  add('jobs.complete', (p, ctx) => {
    let checked: ReturnType<typeof checkComplete>;
    try {
      checked = checkComplete(p);
    } catch (err) {
      if (!(err instanceof ReportRejectedError)) throw err;
      // Logged on the job (the attempt's reason and an event); the job goes back to the queue for another slave.
      const { requeued } = queue.reject(ctx.slave, err.leaseId, `${err.code}: ${err.reason}${err.evidence.length ? ` — evidence: ${err.evidence.join('; ')}` : ''}`.slice(0, 4000));
      throw new RejectedReportError(err, requeued);
    }
    const { leaseId, outcome } = checked;
    if (outcome.kind === 'report') {
      outcome.artifacts.forEach((a, i) => {
        const size = blobs.sizeOf(a.sha256);
        if (size === null) throw new InvalidParamsError(`outcome.artifacts.${i}.sha256`, `no blob ${a.sha256}: PUT it to the blob endpoint before jobs.complete`);
        if (size !== a.sizeBytes) throw new InvalidParamsError(`outcome.artifacts.${i}.sizeBytes`, `the blob has ${size} bytes, not ${a.sizeBytes}`);
      });
    }
    return queue.complete(ctx.slave, leaseId, outcome);
  });
  return server;
}

/**
 * Handles one request body (text): -32700 for malformed JSON, -32600 for anything but a single
 * JSON-RPC 2.0 request object (batches are not part of the protocol). Null for a notification.
 */
export async function handleRpcBody(server: JSONRPCServer<RpcContext>, body: string, ctx: RpcContext): Promise<JSONRPCResponse | null> {
  let msg: unknown;
  try {
    msg = JSON.parse(body);
  } catch (err) {
    return rpcError(null, JSONRPCErrorCode.ParseError, `malformed JSON: ${(err as Error).message}`, 'PYTI_RPC_INVALID');
  }
  const m = msg as Partial<JSONRPCRequest> | null;
  const idOk = m !== null && typeof m === 'object' && (m.id === undefined || m.id === null || typeof m.id === 'string' || typeof m.id === 'number');
  const id = idOk && m!.id !== undefined ? m!.id! : null;
  if (Array.isArray(msg)) return rpcError(null, JSONRPCErrorCode.InvalidRequest, 'batches are not supported: send one request per body', 'PYTI_RPC_INVALID');
  if (!idOk || m!.jsonrpc !== '2.0' || typeof m!.method !== 'string') {
    return rpcError(id, JSONRPCErrorCode.InvalidRequest, 'not a JSON-RPC 2.0 request (jsonrpc "2.0", method, id)', 'PYTI_RPC_INVALID');
  }
  if (m!.params !== undefined && (typeof m!.params !== 'object' || m!.params === null || Array.isArray(m!.params))) {
    return rpcError(id, JSONRPCErrorCode.InvalidParams, 'params must be an object', 'PYTI_RPC_INVALID', { field: 'params' });
  }
  return server.receive(m as JSONRPCRequest, ctx);
}
