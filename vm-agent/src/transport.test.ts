import { PassThrough } from 'node:stream';
import { createInMemoryPair, MessageTooLargeError, StreamMessageReader } from './transport.js';
import { RpcPeer } from './rpc-peer.js';

type Serve = { add: [{ a: number; b: number }, number] };
type Notes = { progress: { n: number } };

describe('transport and RPC peer', () => {
  it('carries typed requests and notifications both ways over an in-memory duplex', async () => {
    const { a, b } = createInMemoryPair();
    const server = new RpcPeer<Serve, Record<string, never>, Record<string, never>, Notes>(b.reader, b.writer);
    const client = new RpcPeer<Record<string, never>, Serve, Notes, Record<string, never>>(a.reader, a.writer);
    const seen: number[] = [];
    client.onNotification('progress', (p) => seen.push(p.n));
    server.onRequest('add', ({ a: x, b: y }) => {
      server.notify('progress', { n: 1 });
      return x + y;
    });
    await expect(client.request('add', { a: 2, b: 40 })).resolves.toBe(42);
    expect(seen).toEqual([1]);
  });

  it('reassembles messages split across chunks and reports oversized lines', () => {
    const input = new PassThrough();
    const lines: string[] = [];
    const errors: Error[] = [];
    new StreamMessageReader(input, 20).listen((l) => lines.push(l), (e) => errors.push(e), () => undefined);
    input.write('{"a"');
    input.write(':1}\n{"b":2}\n' + 'x'.repeat(50));
    input.write('\n{"c":3}\n');
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    expect(errors[0]).toBeInstanceOf(MessageTooLargeError);
  });

  it('reports malformed JSON and unexpected notifications as protocol errors, and answers parse errors', async () => {
    const { a, b } = createInMemoryPair();
    const problems: string[] = [];
    new RpcPeer<Serve, Record<string, never>, Record<string, never>, Notes>(b.reader, b.writer, { onProtocolError: (e) => problems.push(e.message) });
    const replies: string[] = [];
    a.raw.in.on('data', (d: Buffer) => replies.push(d.toString()));
    a.raw.out.write('not json\n');
    a.raw.out.write('{"jsonrpc":"2.0","method":"surprise","params":{}}\n');
    a.raw.out.write('[1,2]\n');
    await new Promise((r) => setTimeout(r, 20));
    expect(problems).toEqual(['message is not JSON', 'unexpected notification surprise', 'message is not a JSON-RPC 2.0 object']);
    expect(replies.join('')).toContain('"code":-32700');
  });
});
