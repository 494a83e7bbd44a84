/**
 * Saving a running guest into a state file for warm starts, the same way for both VM backends:
 * QEMU migrates the guest (QMP `migrate` to `unix:<socket>`) into a socket the slave listens on, and
 * the slave writes what arrives into the file. A restore runs the reverse: QEMU started with
 * `-incoming`, fed the file.
 */
import { chmodSync, chownSync, createWriteStream } from 'node:fs';
import net from 'node:net';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A socket receiving one migration stream into a file. */
export interface MigrationSink {
  /** Resolves once the stream has ended and the file is written; rejects on a write error. */
  written: Promise<void>;
  close(): void;
}

/**
 * Listens on `socketPath` and writes the first connection's bytes to `statePath` (later connections
 * are refused: nobody else may add to a guest's state). `peer`, when given, is the uid:gid QEMU runs
 * as: the socket is then given to its group (mode 0660), else it is left to the umask.
 */
export async function migrationSink(socketPath: string, statePath: string, peer?: { uid: number; gid: number }): Promise<MigrationSink> {
  let taken = false;
  let onWritten: () => void = () => undefined;
  let onFailed: (err: Error) => void = () => undefined;
  const written = new Promise<void>((resolve, reject) => {
    onWritten = resolve;
    onFailed = reject;
  });
  written.catch(() => undefined); // awaited by the caller; a failure before then is not unhandled
  const server = net.createServer((c) => {
    if (taken) return void c.destroy();
    taken = true;
    server.close();
    const out = createWriteStream(statePath, { mode: 0o600 });
    c.pipe(out);
    c.on('error', onFailed);
    out.on('error', onFailed);
    out.on('finish', onWritten);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  if (peer) {
    chownSync(socketPath, 0, peer.gid);
    chmodSync(socketPath, 0o660);
  }
  return { written, close: () => server.close() };
}

/** What QMP `query-migrate` returns, in the part read here. */
export interface MigrationStatus {
  status?: string;
  'error-desc'?: string;
}

/** Polls `query` (QMP `query-migrate`) until the migration has completed; throws if it failed. */
export async function waitMigrated(query: () => Promise<MigrationStatus>, timeoutMs = 120000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await query();
    if (st.status === 'completed') return;
    if (st.status === 'failed' || st.status === 'cancelled') throw new Error(`migration ${st.status}: ${st['error-desc'] ?? ''}`);
    if (Date.now() > deadline) throw new Error(`migration did not complete within ${Math.round(timeoutMs / 1000)} s (status ${st.status})`);
    await sleep(100);
  }
}
