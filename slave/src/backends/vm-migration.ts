/**
 * Saving a booted guest into a state file for warm starts, the same way for both VM backends: the
 * guest is paused (QMP `stop`), QEMU migrates it (QMP `migrate` to `unix:<socket>`) into a socket the
 * slave listens on, and the slave writes what arrives into the file. A restore runs the reverse:
 * QEMU started with `-incoming`, fed the file, and resumed (`cont`) once it has loaded it.
 *
 * Paused, not live: a live migration of a 2-vCPU guest under TCG on a loaded host once gave a
 * template whose every restore panicked at once (timer list corruption in `__run_timers`: a page
 * the guest wrote during the migration was not sent again). A paused guest's memory cannot change
 * while it is copied.
 */
import { chmodSync, chownSync, createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import net from 'node:net';
import { pipeline } from 'node:stream/promises';

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

/**
 * After an incoming migration of a guest saved paused: waits until QEMU has loaded it (`query-status`
 * leaves `inmigrate`), then resumes it (`cont`). Throws if QEMU ends up anywhere but paused or running.
 */
export async function resumeWhenLoaded(qmp: (command: string) => Promise<unknown>, timeoutMs = 120000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status } = (await qmp('query-status')) as { status?: string };
    if (status === 'paused' || status === 'postmigrate') break;
    if (status === 'running') return;
    if (status !== 'inmigrate') throw new Error(`the restored guest is ${status}, not paused`);
    if (Date.now() > deadline) throw new Error(`QEMU had not loaded the saved guest after ${Math.round(timeoutMs / 1000)} s`);
    await sleep(20);
  }
  await qmp('cont');
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

/**
 * Streams a saved guest from `statePath` into the socket a restoring QEMU listens on
 * (`-incoming unix:…`), waiting (up to `timeoutMs`) for QEMU to make it; rejects when `ended()` says
 * QEMU is gone first, or when the connection breaks before the whole file was read. QEMU closes the
 * connection as soon as it has read the stream's end, which can come before the last write's own
 * completion: a close once everything was read is success (whether QEMU could load it shows next,
 * in its state).
 */
export async function feedIncoming(socketPath: string, statePath: string, ended: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let sock: net.Socket | undefined;
  while (!sock) {
    if (ended()) throw new Error('QEMU ended before it took the saved guest');
    if (existsSync(socketPath)) {
      try {
        sock = await new Promise<net.Socket>((resolve, reject) => {
          const c = net.connect(socketPath);
          c.once('connect', () => resolve(c));
          c.once('error', reject);
        });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED') throw err; // bound, not yet listening: again
      }
    }
    if (Date.now() > deadline) throw new Error(`QEMU made no incoming socket at ${socketPath} within ${timeoutMs / 1000} s`);
    await sleep(20);
  }
  const file = createReadStream(statePath);
  const size = statSync(statePath).size;
  try {
    await pipeline(file, sock);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const closedAtEnd = file.bytesRead === size && (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE' || code === 'ECONNRESET');
    if (!closedAtEnd) throw err;
  } finally {
    sock.destroy();
  }
}
