/**
 * Transport: newline-delimited JSON messages over any byte stream (stdio, a virtio-serial port,
 * a socket, or an in-memory duplex in tests), behind a small reader/writer interface.
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';

/** Receives whole messages (one JSON text each), in order. */
export interface MessageReader {
  /** Registers the callback for each message line; `onError` for framing errors; `onClose` at end of stream. */
  listen(onMessage: (line: string) => void, onError: (err: Error) => void, onClose: () => void): void;
}

/** Sends whole messages. */
export interface MessageWriter {
  write(message: unknown): void;
  end(): void;
}

/** Thrown (passed to onError) when a line exceeds the reader's cap. */
export class MessageTooLargeError extends Error {
  constructor(readonly limit: number, readonly seen: number) {
    super(`message larger than ${limit} bytes (at least ${seen})`);
    this.name = 'MessageTooLargeError';
  }
}

/**
 * Reads newline-delimited messages from a byte stream.
 * @param maxLineBytes a line longer than this is a framing error (the rest of it is discarded).
 */
export class StreamMessageReader implements MessageReader {
  constructor(private readonly input: Readable, private readonly maxLineBytes = 8 * 1024 * 1024) {}

  listen(onMessage: (line: string) => void, onError: (err: Error) => void, onClose: () => void): void {
    let parts: Buffer[] = [];
    let size = 0;
    let discarding = false;
    this.input.on('data', (chunk: Buffer) => {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        const piece = nl === -1 ? chunk.subarray(start) : chunk.subarray(start, nl);
        if (!discarding) {
          size += piece.length;
          if (size > this.maxLineBytes) {
            discarding = true;
            parts = [];
            onError(new MessageTooLargeError(this.maxLineBytes, size));
          } else if (piece.length) {
            parts.push(piece);
          }
        }
        if (nl === -1) break;
        if (!discarding && size > 0) {
          const line = Buffer.concat(parts).toString('utf8');
          if (line.trim()) onMessage(line);
        }
        parts = [];
        size = 0;
        discarding = false;
        start = nl + 1;
      }
    });
    this.input.on('error', onError);
    this.input.on('close', onClose);
    this.input.on('end', onClose);
  }
}

/** Writes each message as one JSON line. */
export class StreamMessageWriter implements MessageWriter {
  constructor(private readonly output: Writable) {}
  write(message: unknown): void {
    if (this.output.writableEnded || this.output.destroyed) return;
    this.output.write(JSON.stringify(message) + '\n');
  }
  end(): void {
    if (!this.output.writableEnded) this.output.end();
  }
}

/** Two connected in-memory endpoints, for tests: what one writes the other reads. */
export function createInMemoryPair(): {
  a: { reader: MessageReader; writer: MessageWriter; raw: { in: PassThrough; out: PassThrough } };
  b: { reader: MessageReader; writer: MessageWriter; raw: { in: PassThrough; out: PassThrough } };
} {
  const aToB = new PassThrough();
  const bToA = new PassThrough();
  return {
    a: { reader: new StreamMessageReader(bToA), writer: new StreamMessageWriter(aToB), raw: { in: bToA, out: aToB } },
    b: { reader: new StreamMessageReader(aToB), writer: new StreamMessageWriter(bToA), raw: { in: aToB, out: bToA } },
  };
}
