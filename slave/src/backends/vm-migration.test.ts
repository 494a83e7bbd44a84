import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockCacheEntry } from './cache-lock.js';
import { feedIncoming, migrationSink, waitMigrated, type MigrationStatus } from './vm-migration.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-mig-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const send = (path: string, data: Buffer): Promise<void> => new Promise((resolve, reject) => {
  const c = net.connect(path, () => c.end(data));
  c.on('close', () => resolve());
  c.on('error', reject);
});

describe('migrationSink', () => {
  it('writes the first connection\'s stream to the state file and refuses any later one', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024, 7);
    const sink = await migrationSink(join(dir, 'mig.sock'), join(dir, 'state'));
    await send(join(dir, 'mig.sock'), data);
    await sink.written;
    // A second writer (anyone who can reach the socket) adds nothing to the guest's state.
    await expect(send(join(dir, 'mig.sock'), Buffer.from('forged'))).rejects.toThrow();
    expect(readFileSync(join(dir, 'state')).equals(data)).toBe(true);
    sink.close();
  });
});

describe('waitMigrated', () => {
  it('waits for completed, and says why a failed migration failed', async () => {
    const states: MigrationStatus[] = [{ status: 'setup' }, { status: 'active' }, { status: 'completed' }];
    await waitMigrated(async () => states.shift()!);
    expect(states).toEqual([]);
    await expect(waitMigrated(async () => ({ status: 'failed', 'error-desc': 'Unable to write to socket' }))).rejects.toThrow('migration failed: Unable to write to socket');
    await expect(waitMigrated(async () => ({ status: 'active' }), 300)).rejects.toThrow(/did not complete within/);
  });
});

describe('lockCacheEntry', () => {
  it('lets one process build at a time, and takes over the lock of a dead owner', async () => {
    const entry = join(dir, 'warm-x');
    const release = await lockCacheEntry(entry, 1000);
    await expect(lockCacheEntry(entry, 600)).rejects.toThrow(/timed out waiting for .*warm-x\.lock/);
    release();
    const again = await lockCacheEntry(entry, 1000);
    again();
    // A lock left by a process that died (pid 2^22+1 cannot exist on Linux).
    mkdirSync(`${entry}.lock`);
    writeFileSync(join(`${entry}.lock`, 'pid'), String(2 ** 22 + 1));
    (await lockCacheEntry(entry, 1000))();
  });
});

describe('feedIncoming', () => {
  /** A stand-in for QEMU's `-incoming unix:` socket: reads `take` bytes (all when undefined), then hangs up at once. */
  async function incoming(path: string, take?: number): Promise<{ got: Promise<Buffer>; close(): void }> {
    let done: (b: Buffer) => void = () => undefined;
    const got = new Promise<Buffer>((r) => (done = r));
    const server = net.createServer((c) => {
      const chunks: Buffer[] = [];
      let n = 0;
      c.on('data', (d: Buffer) => {
        chunks.push(d);
        n += d.length;
        if (take !== undefined && n >= take) {
          c.destroy();
          done(Buffer.concat(chunks));
        }
      });
      c.on('end', () => {
        c.destroy();
        done(Buffer.concat(chunks));
      });
      c.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(path, r));
    return { got, close: () => server.close() };
  }

  it('streams the whole state, and takes a hang-up after the last byte as success', async () => {
    const state = join(dir, 'state');
    const data = Buffer.alloc(2 * 1024 * 1024, 3);
    writeFileSync(state, data);
    // The hang-up races the sender's own completion of its last write: tried a number of times.
    for (let i = 0; i < 12; i++) {
      const q = await incoming(join(dir, `in${i}.sock`), data.length); // hangs up the moment it has it all
      await feedIncoming(join(dir, `in${i}.sock`), state, () => false, 5000);
      expect((await q.got).length).toBe(data.length);
      q.close();
    }
  });

  it('fails when QEMU hangs up half-way, or never listens', async () => {
    const state = join(dir, 'state');
    writeFileSync(state, Buffer.alloc(32 * 1024 * 1024, 3));
    const q = await incoming(join(dir, 'half.sock'), 1024 * 1024);
    await expect(feedIncoming(join(dir, 'half.sock'), state, () => false, 5000)).rejects.toThrow();
    q.close();
    await expect(feedIncoming(join(dir, 'none.sock'), state, () => false, 200)).rejects.toThrow(/made no incoming socket/);
    await expect(feedIncoming(join(dir, 'none.sock'), state, () => true, 5000)).rejects.toThrow(/QEMU ended before/);
  });
});
