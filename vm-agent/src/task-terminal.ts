/**
 * A controlling terminal and a login uid for a task, as a real user at a terminal has.
 *
 * Package code calls `os.getlogin()` (glibc reads /proc/self/loginuid, else utmp for the tty of
 * fd 0) and checks `isatty`; without a terminal and a login uid getlogin fails with ENXIO and the
 * payload stops there. The wrapper (a few lines of Python, run as root before the task's uid is
 * taken) opens a pty, makes it the controlling terminal of its session (the runner spawns it as a
 * session leader), forks, and in the child writes the task uid to /proc/self/loginuid (needs
 * CAP_AUDIT_CONTROL), makes the pty's slave fd 0 and owned by the uid, drops to uid/gid with no
 * supplementary groups and execs the command; stdout and stderr stay the runner's pipes. The parent
 * keeps the master open, queues end-of-file characters (a task reading its terminal gets EOF, not a
 * hang until the no-output limit), discards what the task writes to the terminal, and exits as the
 * child did (re-raising its signal, so a SIGXCPU still reads as the CPU limit and a SIGKILL as
 * "killed by SIGKILL", not as the wrapper's own exit code 1). Without devpts (no
 * pty) it takes the login uid and the uid and execs the command itself.
 */

/** Processes the wrapper adds to a task's process tree (its own, the parent of the task's first). */
export const TERMINAL_WRAPPER_PROCESSES = 1;

/** The wrapper's Python source: argv is UID GID -- COMMAND... */
export const TERMINAL_WRAPPER_PY = `
import fcntl, os, select, signal, sys, termios
uid, gid = int(sys.argv[1]), int(sys.argv[2])
argv = sys.argv[4:]
try:
    master, slave = os.openpty()
except OSError:  # no devpts: the login uid and the uid still, without a terminal
    try:
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(uid))
    except OSError:
        pass
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    os.execvp(argv[0], argv)
try:
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
except OSError:
    pass
try:
    os.fchown(slave, uid, gid)
except OSError:
    pass
pid = os.fork()
if pid == 0:
    try:
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(uid))
    except OSError:
        pass
    os.dup2(slave, 0)
    os.close(slave)
    os.close(master)
    try:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        os.execvp(argv[0], argv)
    except OSError as e:
        sys.stderr.write("pyti-task: cannot run %s: %s\\n" % (argv[0], e))
    os._exit(127)
os.close(slave)
try:
    os.write(master, b"\\x04" * 256)
except OSError:
    pass
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    try:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            os.read(master, 65536)
    except OSError:
        select.select([], [], [], 0.5)
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    try:
        signal.signal(sig, signal.SIG_DFL)
    except (OSError, ValueError):  # SIGKILL and SIGSTOP keep their default: nothing to reset
        pass
    os.kill(os.getpid(), sig)
os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
`;

/** The argv prefix that runs a command with a terminal as uid/gid: `[...terminalWrapper(u, g), ...command]`. */
export function terminalWrapper(uid: number, gid: number, python = '/usr/bin/python3'): string[] {
  return [python, '-I', '-S', '-c', TERMINAL_WRAPPER_PY, String(uid), String(gid), '--'];
}
