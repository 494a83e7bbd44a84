/**
 * Witnesses of a sandbox's task uids: one idle process per uid of the sandbox's range, with that uid
 * as its effective and saved uid, on the host, in the host's pid namespace, outside the sandbox. A task inside the sandbox
 * cannot see them (its own pid namespace), so its own `kill(-1, …)` never reaches them; a process
 * outside the sandbox that signals every process of one of the range's uids (the chroot baseline's
 * `kill -KILL -1`, another program using the same uids) kills its witness too. A witness that dies
 * before the sandbox ends is the proof that the sandbox's tasks were signalled from outside: the
 * audit is then an infrastructure failure (`error:sandbox`, retried), never the package's.
 *
 * Its real uid is another one (the range's witness uid, which no task uses): RLIMIT_NPROC counts a
 * process against its real uid, so a witness takes nothing from its task's process limit, while the
 * kernel lets a sender whose uid is the witness's saved uid signal it (kill(2)'s permission rule).
 *
 * Limits: a signal aimed at one task pid by root outside the sandbox is not seen here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface UidWitnesses {
  /** Why the range was signalled from outside, once a witness has died; undefined while none has. */
  outsideKill(): string | undefined;
  /** Ends the witnesses (idempotent); later deaths are not counted. */
  stop(): void;
}

/**
 * Starts one witness per uid `base … base+count-1` (needs root, and setpriv(1)), each with real uid
 * `realUid` (default `base + count`; not a task's); each exits when stopped or when this process dies.
 */
export function watchUids(base: number, count: number, realUid = base + count): UidWitnesses {
  let stopped = false;
  let killed: string | undefined;
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    const uid = base + i;
    // `cat` waits on our pipe: end-of-file (stop, or this process gone) ends it with status 0.
    const child = spawn('setpriv', [`--ruid=${realUid}`, `--euid=${uid}`, `--rgid=${realUid}`, `--egid=${uid}`, '--clear-groups', '--', 'cat'], {
      stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: '/usr/bin:/bin' }, cwd: '/',
    });
    child.stdin!.on('error', () => undefined);
    child.on('error', () => undefined);
    child.on('exit', (_code, signal) => {
      if (stopped || killed || !signal) return; // only a signal is someone else's doing
      killed = `uid ${uid} of this sandbox was signalled from outside the sandbox (its witness was ended by ${signal})`;
    });
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    children.push(child);
  }
  return {
    outsideKill: () => killed,
    stop() {
      if (stopped) return;
      // A witness dead but not yet reaped (its exit event still queued) died before the sandbox ended.
      for (const c of children) if (!killed && c.pid && c.exitCode === null && c.signalCode === null && zombie(c.pid)) killed = `a uid of this sandbox was signalled from outside the sandbox (witness ${c.pid} died)`;
      stopped = true;
      for (const c of children) c.stdin!.end();
    },
  };
}

/** Whether `pid` has died and waits to be reaped. */
function zombie(pid: number): boolean {
  try {
    return /^ Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^\d+ \(.*\)/s, ''));
  } catch {
    return false;
  }
}
