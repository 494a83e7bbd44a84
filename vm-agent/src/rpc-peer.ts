/**
 * A typed JSON-RPC 2.0 peer (json-rpc-2.0) over a MessageReader/MessageWriter pair: it can both
 * serve requests and send them. `Serve` is the table of requests this end answers, `Call` the table
 * of requests it sends; notifications are typed the same way.
 */
import { JSONRPCClient, JSONRPCServer, JSONRPCServerAndClient } from 'json-rpc-2.0';
import type { MessageReader, MessageWriter } from './transport.js';

/** Params of request `M` in table `T` (a table maps method name → [params, result]). */
export type ParamsOf<T, M extends keyof T> = T[M] extends [infer P, unknown] ? P : never;
/** Result of request `M` in table `T`. */
export type ResultOf<T, M extends keyof T> = T[M] extends [unknown, infer R] ? R : never;

export interface RpcPeerOptions {
  /** Called for anything that is not a well-formed JSON-RPC message, or a notification nobody handles. */
  onProtocolError?: (err: Error, raw: string) => void;
  /** Called once when the stream ends. */
  onClose?: () => void;
}

export class RpcPeer<Serve extends object, Call extends object, NotesIn extends object, NotesOut extends object> {
  private readonly peer: JSONRPCServerAndClient;
  private readonly notificationHandlers = new Map<string, (params: unknown) => void>();
  private closed = false;

  constructor(reader: MessageReader, private readonly writer: MessageWriter, private readonly options: RpcPeerOptions = {}) {
    this.peer = new JSONRPCServerAndClient(
      new JSONRPCServer(),
      new JSONRPCClient((payload) => {
        this.writer.write(payload);
      }),
    );
    reader.listen(
      (line) => this.receive(line),
      (err) => options.onProtocolError?.(err, ''),
      () => {
        if (this.closed) return;
        this.closed = true;
        this.peer.rejectAllPendingRequests('connection closed');
        options.onClose?.();
      },
    );
  }

  private receive(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.options.onProtocolError?.(new Error('message is not JSON'), line);
      this.writer.write({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg) || (msg as { jsonrpc?: unknown }).jsonrpc !== '2.0') {
      this.options.onProtocolError?.(new Error('message is not a JSON-RPC 2.0 object'), line.slice(0, 512));
      return;
    }
    const m = msg as { method?: unknown; id?: unknown; params?: unknown };
    if (typeof m.method === 'string' && m.id === undefined) {
      const handler = this.notificationHandlers.get(m.method);
      if (!handler) {
        this.options.onProtocolError?.(new Error(`unexpected notification ${m.method}`), line.slice(0, 512));
        return;
      }
      try {
        handler(m.params);
      } catch (err) {
        this.options.onProtocolError?.(err as Error, line.slice(0, 512));
      }
      return;
    }
    this.peer.receiveAndSend(msg).catch((err: unknown) => this.options.onProtocolError?.(err as Error, line.slice(0, 512)));
  }

  /** Serves `method`; a thrown error becomes a JSON-RPC error response. */
  onRequest<M extends keyof Serve & string>(method: M, handler: (params: ParamsOf<Serve, M>) => Promise<ResultOf<Serve, M>> | ResultOf<Serve, M>): void {
    this.peer.addMethod(method, (params) => handler(params as ParamsOf<Serve, M>) as never);
  }

  onNotification<M extends keyof NotesIn & string>(method: M, handler: (params: NotesIn[M]) => void): void {
    this.notificationHandlers.set(method, handler as (p: unknown) => void);
  }

  request<M extends keyof Call & string>(method: M, params: ParamsOf<Call, M>): Promise<ResultOf<Call, M>> {
    return Promise.resolve(this.peer.request(method, params as never));
  }

  notify<M extends keyof NotesOut & string>(method: M, params: NotesOut[M]): void {
    this.peer.notify(method, params as never);
  }

  /** Fails every request still waiting for an answer. */
  rejectPending(reason: string): void {
    this.peer.rejectAllPendingRequests(reason);
  }
}
