/**
 * A master whose data disk fills up, for real: its data directory is on a small tmpfs (mounted here,
 * so the test needs root), the master runs as its own process (bin/pyti.mjs master), the disk is
 * filled to the last byte, and then:
 * - the sweep timer meets SQLITE_FULL (a lease expires while the disk is full): the master logs it
 *   with PYTI_STORAGE_FULL and stays up;
 * - writes are refused with HTTP 507 and PYTI_STORAGE_FULL (`pyti submit` by name and by file exits 69,
 *   the server-fault status, not 64), reads go on (`pyti status` exits 0);
 * - once the space is freed, the sweep works again (the expired job is queued again) and a submission
 *   succeeds, with no restart.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SlaveCapabilities } from '@pyti/common';
import type { PytiError } from '@pyti/vm-agent';
import { openDatabase } from '@pyti/master';
import { main, type CliIO } from '@pyti/master/cli';
import { CommandClient } from '@pyti/slave';
import { TestChild } from './child-process.js';
import { debianWheel } from './index-fixtures.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const S1 = 'slave1-token-0123456789';
const USER = 'user-token-0123456789';
const caps: SlaveCapabilities = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 1 };
const isRoot = process.getuid?.() === 0;

jest.setTimeout(180_000);

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function io(): CliIO & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', isTTY: false, out: (s: string) => void (o.stdout += s), err: (s: string) => void (o.stderr += s) };
  return o;
}

/** Writes `path` until the file system refuses (ENOSPC): big chunks, then 4 KiB ones, then single bytes. */
function fillDisk(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (err) {
          if ((err as { code?: string }).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

(isRoot ? describe : describe.skip)('a master whose data disk is full (tmpfs, root)', () => {
  let base: string;
  let mnt: string;
  let mounted = false;
  let master: TestChild | null = null;

  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'pyti-disk-full-'));
    mnt = join(base, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m,mode=0700', 'tmpfs', mnt]);
    mounted = true;
  });
  afterAll(async () => {
    if (master) {
      master.proc.kill('SIGKILL');
      await master.exited;
    }
    if (mounted) execFileSync('umount', ['-l', mnt]);
    rmSync(base, { recursive: true, force: true });
  });

  it('stays up, refuses writes with PYTI_STORAGE_FULL (exit 69), serves reads, and recovers when space returns', async () => {
    const data = join(mnt, 'data');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    master = new TestChild('master', process.execPath, [join(ROOT, 'bin/pyti.mjs'), 'master', '--data', data, '--port', String(port),
      '--slave-token', `s1:${S1}`, '--lease-ms', '1000', '--heartbeat-ms', '400', '--max-wait-ms', '500', '--no-follow'], { env: { PYTI_USER_TOKEN: USER } });
    await master.waitForLine(/pyti master listening on/, 60_000);
    const conn = ['--master', url, '--token', USER];

    // A job leased by a slave that then goes silent: its lease expires while the disk is full.
    const first = io();
    expect(await main(['submit', 'idx-app==1.0', ...conn], first)).toBe(0);
    const slave = new CommandClient({ masterUrl: url, token: S1, retry: { initialMs: 10, maxMs: 50, deadlineMs: 2000 } });
    await slave.call('slave.register', { protocolVersion: 1, version: '0.1.0', host: 'silent', capabilities: caps });
    const leased = await slave.call('jobs.lease', { max: 1, waitMs: 0 });
    expect(leased.jobs).toHaveLength(1);

    // The write-ahead log checkpointed and truncated (as a long-running master's is), so every write needs new blocks.
    // (SQLite-specific test set-up: a second connection to the master's file.)
    const db = openDatabase(join(data, 'master.db'));
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const filler = join(mnt, 'filler');
    expect(fillDisk(filler)).toBeGreaterThan(1 << 20);

    // The sweep timer meets the full disk after the lease expires: logged with the code, the master stays up.
    await master.waitForLine(/queue sweep failed: PYTI_STORAGE_FULL: .*SQLITE_FULL/, 20_000);
    await new Promise((r) => setTimeout(r, 1000)); // more ticks
    expect(master.proc.exitCode).toBeNull();
    expect(master.lines.join('\n')).not.toMatch(/uncaught|internal error/i);

    // Writes are refused: by name (a database insert) and by file (a blob write), exit 69, never 64.
    const byName = io();
    expect(await main(['submit', 'idx-leaf==1.0', ...conn], byName)).toBe(69);
    expect(byName.stderr).toMatch(/pyti: error PYTI_STORAGE_FULL: .*HTTP 507.*data disk is full/);
    const byFile = io();
    expect(await main(['submit', debianWheel('wheel'), ...conn], byFile)).toBe(69);
    expect(byFile.stderr).toContain('pyti: error PYTI_STORAGE_FULL');
    const raw = await fetch(`${url}/api/v1/audits`, {
      method: 'POST', headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ project: 'idx-leaf', version: '1.1' }),
    });
    expect(raw.status).toBe(507);
    expect(((await raw.json()) as { error: { code: string } }).error.code).toBe('PYTI_STORAGE_FULL');

    // A slave's calls are answered 507, which it retries (a finished result would stay in its outbox), never a final refusal.
    const beat = await slave.call('slave.heartbeat', { leases: [], draining: false }).then(() => null, (e: PytiError) => e);
    expect(beat?.code).toBe('PYTI_MASTER_UNREACHABLE');
    expect(beat?.message).toMatch(/did not answer after \d+ attempts.*507/);

    // Reads go on.
    const status = io();
    expect(await main(['status', '--json', ...conn], status)).toBe(0);
    expect(status.stdout).toContain('idx-app');
    expect(master.proc.exitCode).toBeNull();

    // Space returns: the sweep works again (the expired job is queued again) and submissions succeed.
    rmSync(filler);
    await master.waitForLine(/queue sweep works again/, 20_000);
    const after = io();
    expect(await main(['submit', 'idx-leaf==1.0', ...conn], after)).toBe(0);
    const list = io();
    expect(await main(['status', '--json', ...conn], list)).toBe(0);
    const audits = JSON.parse(list.stdout) as { project: string; state: string }[] | { audits: { project: string; state: string }[] };
    const rows = Array.isArray(audits) ? audits : audits.audits;
    expect(rows.find((a) => a.project === 'idx-app')?.state).toBe('queued');
    expect(rows.some((a) => a.project === 'idx-leaf')).toBe(true);
    expect(master.proc.exitCode).toBeNull();
  });
});
