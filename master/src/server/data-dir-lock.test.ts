/**
 * One master per SQLite data directory, with real `pyti master` processes (the built bin/pyti.mjs):
 * a second one refuses to start and names the first; a killed master's lock is taken over.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE, lockDataDir, readLockHolder } from './data-dir-lock.js';

const bin = new URL('../../../bin/pyti.mjs', import.meta.url).pathname;

interface Run {
  child: ChildProcessWithoutNullStreams;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function pyti(args: string[]): Run {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, out: () => out, err: () => err, exited };
}

/** Starts a master on `dir`; resolves to its URL once it listens (rejects with its stderr if it exits first). */
async function startMaster(dir: string): Promise<Run & { url: string }> {
  const run = pyti(['master', '--data', dir, '--port', '0', '--no-follow', '--slave-token', 'w1:token-of-w1']);
  for (let i = 0; i < 400; i++) {
    const url = /pyti master listening on (http:\/\/\S+)/.exec(run.out())?.[1];
    if (url) return { ...run, url };
    if (run.child.exitCode !== null) throw new Error(`master exited ${run.child.exitCode}: ${run.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  run.child.kill('SIGKILL');
  throw new Error(`master did not start: ${run.err()}`);
}

/** Whether anyone holds the flock of `path` now (asked with flock(1) itself). */
const lockHeld = (path: string): boolean => {
  try {
    execFileSync('flock', ['--nonblock', '--conflict-exit-code', '75', path, 'true']);
    return false;
  } catch {
    return true;
  }
};

describe('the data directory lock', () => {
  let dir: string;
  const running: Run[] = [];
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'pyti-lock-')); });
  afterEach(async () => {
    for (const r of running.splice(0)) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await r.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second master on a data directory in use refuses to start, naming the first; the first keeps serving', async () => {
    const first = await startMaster(dir);
    running.push(first);
    const second = pyti(['master', '--data', dir, '--port', '0', '--no-follow']);
    running.push(second);
    expect(await second.exited).toBe(2);
    expect(second.out()).not.toContain('listening');
    const err = second.err();
    expect(err).toContain('PYTI_DATA_DIR_LOCKED');
    expect(err).toContain(`pid ${first.child.pid} on host ${hostname()}`);
    expect(err).toMatch(/pyti master, since \d{4}-\d\d-\d\dT/);
    expect(err).toContain(join(dir, LOCK_FILE));
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);

    // Rescoring needs the master stopped: it takes the same lock.
    const rescore = pyti(['master', 'rescore', '--data', dir]);
    running.push(rescore);
    expect(await rescore.exited).toBe(2);
    expect(rescore.err()).toContain('PYTI_DATA_DIR_LOCKED');

    // A graceful stop releases the lock and clears the holder's name: the next master takes it silently.
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe('');
    const next = await startMaster(dir);
    running.push(next);
    expect(next.err()).not.toContain('took over');
    expect(readLockHolder(join(dir, LOCK_FILE))).toMatchObject({ pid: next.child.pid, host: hostname(), command: 'pyti master' });
  });

  it('a killed master\'s lock is taken over, and the new master says from whom', async () => {
    const first = await startMaster(dir);
    running.push(first);
    first.child.kill('SIGKILL');
    await first.exited;
    // The kernel drops the flock once the holder's pipe closes.
    for (let i = 0; i < 100 && lockHeld(join(dir, LOCK_FILE)); i++) await new Promise((r) => setTimeout(r, 50));
    const second = await startMaster(dir);
    running.push(second);
    expect(second.err()).toContain(`took over the lock of ${dir} from pid ${first.child.pid} on host ${hostname()}`);
    expect(readLockHolder(join(dir, LOCK_FILE))?.pid).toBe(second.child.pid);
    expect((await fetch(`${second.url}/healthz`)).status).toBe(200);
  });

  it('in one process: a held lock is refused, a released one is taken again', async () => {
    const a = await lockDataDir(dir, 'test holder');
    expect(lockHeld(a.path)).toBe(true);
    await expect(lockDataDir(dir, 'second')).rejects.toMatchObject({ code: 'PYTI_DATA_DIR_LOCKED', holder: { pid: process.pid, command: 'test holder' } });
    await a.release();
    await a.release();
    expect(lockHeld(a.path)).toBe(false);
    const b = await lockDataDir(dir, 'again');
    expect(b.tookOverFrom).toBeNull();
    await b.release();
  });

  it('a master whose lock holder process dies stops (PYTI_DATA_DIR_LOCKED), so no second master shares the directory', async () => {
    const first = await startMaster(dir);
    running.push(first);
    // The flock(1) child holding the lock for this master (killed by hand, by the OOM killer, …).
    const holder = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(first.child.pid)], { encoding: 'utf8' })
      .split('\n').find((l) => l.includes('flock') && l.includes(LOCK_FILE));
    expect(holder).toBeDefined();
    process.kill(Number(holder!.trim().split(/\s+/)[0]), 'SIGKILL');
    expect(await first.exited).toBe(2);
    expect(first.err()).toMatch(/PYTI_DATA_DIR_LOCKED: lost the data directory lock: its flock\(1\) holder \(pid \d+\) ended \(SIGKILL\)/);
    expect(first.err()).toContain('pyti master: closed');
    // A stopped master released nothing it did not hold: the next one starts without a takeover claim against a live master.
    const second = await startMaster(dir);
    running.push(second);
    expect((await fetch(`${second.url}/healthz`)).status).toBe(200);
  });

  it('in one process: a lost lock is reported, and releasing it leaves the new holder\'s name in the lock file', async () => {
    const a = await lockDataDir(dir, 'test holder');
    const line = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n').find((l) => l.includes('flock') && l.includes(a.path));
    process.kill(Number(line!.trim().split(/\s+/)[0]), 'SIGKILL');
    expect(await a.lost).toMatch(/ended \(SIGKILL\), so the kernel dropped the lock/);
    const b = await lockDataDir(dir, 'the next master');
    await a.release();
    expect(readLockHolder(a.path)).toMatchObject({ pid: process.pid, command: 'the next master' });
    expect(lockHeld(a.path)).toBe(true);
    await b.release();
  });

  it('in one process: a released lock is not reported lost', async () => {
    const a = await lockDataDir(dir, 'test holder');
    let lost: string | null = null;
    void a.lost.then((w) => { lost = w; });
    await a.release();
    await new Promise((r) => setTimeout(r, 100));
    expect(lost).toBeNull();
  });
});
