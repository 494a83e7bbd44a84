/**
 * The task launcher: one short Python process that does, before the task's first instruction, what
 * a `sh` cgroup gate, prlimit(1) and a terminal wrapper used to do as three execs per task (under
 * TCG each exec costs 0.1–0.2 s, and the old wrapper slept up to 0.5 s after its child had ended).
 *
 * In order, as root (the runner spawns it as a session leader, stdin /dev/null, stdout and stderr
 * the runner's pipes):
 * 1. With a gate (fd 3): waits for the runner's go-ahead, written once the runner has moved the
 *    launcher into the task's cgroup, and closes the fd; a closed gate without it exits 125. So the
 *    task's first own instruction already runs in its cgroup.
 * 2. Sets the task's rlimits on itself (inherited by everything after it): CPU soft:hard (the soft
 *    one sends SIGXCPU, read as the CPU limit), no core files, address space, and with a uid the
 *    uid's process count.
 * 3. With a uid and a terminal: opens a pty, makes it the controlling terminal of its session,
 *    forks; the child writes the uid to /proc/self/loginuid (`os.getlogin()` answers), makes the
 *    pty's slave its fd 0 owned by the uid, drops to uid/gid with no supplementary groups and execs
 *    the command. The parent keeps the master open, queues end-of-file characters (a task reading
 *    its terminal gets EOF, not a hang), discards what the task writes there, wakes on SIGCHLD (not
 *    on a poll) and exits as its child did, re-raising the child's signal (a SIGXCPU still reads as
 *    the CPU limit, a SIGKILL as killed). Without devpts (no pty), or without a terminal asked
 *    for, it takes the login uid and the uid itself and execs the command: no extra process.
 * 4. Without a uid (tests that run the agent unprivileged): gate and rlimits, then exec.
 *
 * Every path execs the command with default signal dispositions (Python's start-up ignores SIGPIPE
 * and SIGXFSZ; the command gets them back, as from a shell).
 *
 * The compiled launcher (vm-agent/launcher/pyti-launch.c) does the same steps in C and is used
 * when the agent bundle carries it: an exec of it costs milliseconds in an emulated guest.
 *
 * Security: the launcher runs with `-I -S` (no user site, no PYTHON* environment, no site-packages,
 * no script directory on sys.path), imports only the standard library's built-in and lib-dynload
 * modules, and execs or forks before any of the task's code runs; what the task runs as its uid
 * cannot signal or ptrace it (a different uid, and root). The pty's master stays with the root
 * parent; the task holds only the slave.
 */

import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Where the compiled launcher (vm-agent/launcher/pyti-launch.c, built static into the agent bundle
 * by `npm run build` when gcc is there) may be: beside agent.mjs, in the job's bundle mount
 * (/opt/pyti/agent: a QEMU guest runs a copy of agent.mjs from /run/pyti), or the bundle seen
 * from vm-agent/src or dist.
 */
function launcherSources(): string[] {
  try {
    return [new URL('./pyti-launch', import.meta.url).pathname, '/opt/pyti/agent/pyti-launch', new URL('../bundle/pyti-launch', import.meta.url).pathname];
  } catch {
    return ['/opt/pyti/agent/pyti-launch'];
  }
}

/** Answers its usage with exit 126 when it can be executed here at all. */
function runs(path: string): boolean {
  const r = spawnSync(path, [], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 10000 });
  return r.status === 126 && /usage: pyti-launch/.test(r.stderr ?? '');
}

let prepared: { key: string; path: string | undefined } | undefined;

/**
 * The compiled launcher ready to run, or undefined (the Python launcher is used). The guest mounts
 * the job's bundle noexec: then the binary is copied into a fresh directory of the agent's own
 * (mode 0700, beside agent.mjs or else in the temporary directory), which no task uid can enter or
 * change. Checked once per agent and bundle version (a warm guest's agent was started before the
 * job's disk with its bundle was attached, so it is looked up at the first task, not at start).
 */
export function launcherBinary(): string | undefined {
  const source = launcherSources().find((p) => existsSync(p));
  if (source === undefined) return undefined;
  let key: string;
  try {
    const st = statSync(source);
    key = `${source}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
  if (prepared?.key === key) return prepared.path;
  let path: string | undefined;
  if (runs(source)) path = source;
  else {
    for (const base of [dirname(launcherSources()[0]!), tmpdir()]) {
      try {
        const dir = mkdtempSync(join(base, 'pyti-launch-'));
        chmodSync(dir, 0o700);
        const copy = join(dir, 'pyti-launch');
        copyFileSync(source, copy);
        chmodSync(copy, 0o700);
        if (runs(copy)) {
          path = copy;
          break;
        }
      } catch {
        /* read-only or noexec here too: the next place */
      }
    }
  }
  prepared = { key, path };
  return path;
}

/** Processes the launcher adds to a task's process tree (its own, the parent of the task's first). */
export const LAUNCHER_PROCESSES = 1;

/** The launcher's Python source: argv is GATE UID GID TERMINAL CPU_SOFT CPU_HARD AS NPROC -- COMMAND... (-1: none). */
export const LAUNCHER_PY = `
import os, sys
a = sys.argv
gate, uid, gid, term = a[1] == "1", int(a[2]), int(a[3]), a[4] == "1"
cpu_soft, cpu_hard, as_bytes, nproc = int(a[5]), int(a[6]), int(a[7]), int(a[8])
argv = a[10:]
if gate:
    try:
        go = os.read(3, 16)
    except OSError:
        go = b""
    if not go.startswith(b"go"):
        os._exit(125)
    os.close(3)
if cpu_soft >= 0:
    import resource
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_soft, cpu_hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))
    if nproc >= 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

def login_uid():
    try:
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(uid))
    except OSError:
        pass

def become_and_exec():
    try:
        if uid >= 0:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
    except OSError as e:
        sys.stderr.write("pyti-task: cannot take the task's uid: %s\\n" % e)
        os._exit(126)
    import signal
    for s in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD):
        signal.signal(s, signal.SIG_DFL)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        sys.stderr.write("pyti-task: cannot run %s: %s\\n" % (argv[0], e))
    os._exit(127)

if uid < 0:
    become_and_exec()
master = -1
if term:
    try:
        master, slave = os.openpty()
    except OSError:
        master = -1
if master < 0:
    login_uid()
    become_and_exec()
import fcntl, select, signal, termios
try:
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
except OSError:
    pass
try:
    os.fchown(slave, uid, gid)
except OSError:
    pass
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda s, f: None)
pid = os.fork()
if pid == 0:
    login_uid()
    os.dup2(slave, 0)
    os.close(slave)
    os.close(master)
    become_and_exec()
os.close(slave)
try:
    os.write(master, b"\\x04" * 256)
except OSError:
    pass
watch = [master, wake_r]
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    try:
        ready = select.select(watch, [], [], 5.0)[0]
    except OSError:
        ready = []
    for fd in ready:
        try:
            if not os.read(fd, 65536) and fd == master:
                watch.remove(master)
        except BlockingIOError:
            pass
        except OSError:
            if fd == master:
                watch.remove(master)
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    try:
        signal.signal(sig, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), sig)
os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
`;

/** What the launcher does before the command. */
export interface LaunchOptions {
  /** Wait for the go-ahead on fd 3. */
  gate: boolean;
  /** Drop to this uid/gid (no supplementary groups); needs root. */
  uid?: number;
  gid?: number;
  /** With a uid: a pty as fd 0 and controlling terminal, and the uid as login uid. */
  terminal: boolean;
  /** rlimits; absent: none set. `nproc` only with a uid (RLIMIT_NPROC counts every process of the uid). */
  rlimits?: { cpuSoft: number; cpuHard: number; addressSpace: number; nproc?: number };
}

/**
 * The argv that runs `command` through the launcher: the compiled `binary` when given, else the
 * Python one with `python` (`-I -S`). Both take the same arguments and behave the same.
 */
export function launcherArgv(o: LaunchOptions, command: string[], python = '/usr/bin/python3', binary?: string): string[] {
  const r = o.rlimits;
  const n = (v: number | undefined): string => String(v === undefined ? -1 : Math.floor(v));
  const prefix = binary ? [binary] : [python, '-I', '-S', '-c', LAUNCHER_PY];
  return [...prefix, o.gate ? '1' : '0', n(o.uid), n(o.uid === undefined ? undefined : o.gid ?? o.uid),
    o.terminal && o.uid !== undefined ? '1' : '0', n(r?.cpuSoft), n(r?.cpuHard), n(r?.addressSpace), n(o.uid === undefined ? undefined : r?.nproc),
    '--', ...command];
}
