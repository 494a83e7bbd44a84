"""PyTI's warm Python: a Python process of the guest image with the modules the traced build and
install steps need already imported, from which those steps are forked instead of started.

Started by the agent of a VM guest at its start, as root, under `strace -ff --seccomp-bpf ... -o DIR/t`
(vm-agent/src/warm-python.ts), before the guest is saved as the warm template: every restored guest
has it ready, its imports done. strace follows every process forked from it from its first
instruction; each process's trace goes to DIR/t.PID.

Usage: warm_python.py SOCKET TRACE_DIR MODULES   (prints "ready" on stdout once it listens)
MODULES: the modules to import first, one per line (vm-agent/guest/warm_python_modules.txt).

Protocol (SOCKET, a Unix stream socket any task user may connect to): the client sends one
message, a 4-byte big-endian length and a JSON object {"argv": [SCRIPT, ARG...], "cwd": DIR,
"env": {NAME: VALUE}}, with four descriptors attached (SCM_RIGHTS): stdin, stdout, stderr and the
file to write the trace into. The answer is JSON lines: {"pid": N} once the child runs, then
{"exit": CODE} or {"signal": N} once it and every process it started have ended and the trace is
written; or {"error": TEXT} when the request was refused (the client then starts the step cold).

The child becomes what `python3 SCRIPT ARG...` started by the client would have been: the client's
uid and gid (from the socket's peer credentials, never from the request) with no supplementary
groups, its cgroup, resource limits, login uid and umask, the given descriptors as 0-2, the given
environment (PYTHONPATH and its sitecustomize, the user site as a cold start would add them),
sys.argv and sys.path[0], default signal dispositions. Then it runs SCRIPT as __main__.

The trace written for the client is its child's process tree, merged from the per-process files in
time order, each line prefixed with its pid as `strace -f -o` writes it. Its first line is written
by this process, not strace: an execve of the interpreter with the script's argv, marked
`/* pyti: forked warm */`, which stands for the exec a cold start would have made (the host's
trace reading goes by it: trace-owner.ts). What the child did before it ran the script (taking the
client's identity) is left out: it ends with an open of MARKER (`.task-begin` beside SOCKET).

Security: runs as root in a throw-away guest. A request never raises privileges: the child has the
client's identity (root clients are refused) before it runs anything of the request's, and chdirs
as that user. The request's text is data (argv, cwd, env), capped in size.
"""
import array
import importlib
import json
import os
import re
import resource
import select
import signal
import socket
import struct
import sys
import time

MARKER = os.path.join(os.path.dirname(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "/run/pyti/warm/python.sock")), ".task-begin")
MAX_REQUEST = 1 << 20


def preload(modules_file):
    """Imports the modules listed in modules_file (one per line, in order; `#` comments), skipping
    those the image lacks; returns how many were imported. The order is the cold build's: the
    distutils shim of setuptools, for one, must be in place before `distutils` is imported."""
    loaded = 0
    with open(modules_file, encoding="utf-8") as f:
        names = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
            loaded += 1
        except Exception:  # noqa: BLE001 - a module the image lacks: steps import it as they would cold
            pass
    return loaded


def peer_of(conn):
    pid, uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return pid, uid, gid


def proc_text(pid, name, limit=65536):
    with open("/proc/%d/%s" % (pid, name), "rb") as f:
        return f.read(limit).decode("utf-8", "replace")


def proc_uid(pid):
    m = re.search(r"^Uid:\s+(\d+)", proc_text(pid, "status"), re.M)
    return int(m.group(1)) if m else -1


# /proc/PID/limits rows (readable without CAP_SYS_RESOURCE, which prlimit on another process needs).
LIMIT_ROWS = {"Max cpu time": resource.RLIMIT_CPU, "Max file size": resource.RLIMIT_FSIZE,
              "Max data size": resource.RLIMIT_DATA, "Max stack size": resource.RLIMIT_STACK,
              "Max core file size": resource.RLIMIT_CORE, "Max processes": resource.RLIMIT_NPROC,
              "Max open files": resource.RLIMIT_NOFILE, "Max address space": resource.RLIMIT_AS}


def proc_limits(pid):
    """The client's resource limits {RLIMIT_*: (soft, hard)}, as /proc/PID/limits states them."""
    out = {}
    for line in proc_text(pid, "limits").splitlines():
        for label, res in LIMIT_ROWS.items():
            if line.startswith(label + " "):
                values = line[len(label):].split()
                soft, hard = (resource.RLIM_INFINITY if v == "unlimited" else int(v) for v in values[:2])
                out[res] = (soft, hard)
    if len(out) != len(LIMIT_ROWS):
        raise ValueError("cannot read the client's resource limits")
    return out


def receive(conn):
    """The request and its four descriptors, or raises ValueError."""
    fds = array.array("i")
    data, ancdata, _flags, _addr = conn.recvmsg(65536, socket.CMSG_LEN(16 * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - (len(payload) % fds.itemsize)])
    if len(fds) != 4:
        for fd in fds:
            os.close(fd)
        raise ValueError("the request must carry 4 descriptors, not %d" % len(fds))
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        if len(data) >= 4 and struct.unpack(">I", data[:4])[0] > MAX_REQUEST:
            break
        more = conn.recv(65536)
        if not more:
            break
        data += more
    size = struct.unpack(">I", data[:4])[0] if len(data) >= 4 else -1
    try:
        if size < 0 or size > MAX_REQUEST or len(data) != 4 + size:
            raise ValueError("a request is a 4-byte length and that many bytes of JSON (at most %d)" % MAX_REQUEST)
        req = json.loads(data[4:].decode("utf-8"))
        argv, cwd, env = req.get("argv"), req.get("cwd"), req.get("env")
        if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
            raise ValueError("argv must be a non-empty list of strings")
        if not isinstance(cwd, str) or not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ValueError("cwd must be a string and env an object of strings")
    except Exception:
        for fd in fds:
            os.close(fd)
        raise
    return argv, cwd, env, list(fds)


def become_child(peer, argv, cwd, env, fds, listener, conn):
    """In the forked child: take the client's identity, then run the script. Never returns."""
    code = 1
    step = "set-up"
    try:
        for target, fd in enumerate(fds[:3]):  # first: a failure below is said on the client's stderr
            os.dup2(fd, target)
        pid, uid, gid = peer
        cgroup = re.search(r"^0::(/.*)$", proc_text(pid, "cgroup"), re.M)
        limits = proc_limits(pid)
        loginuid = proc_text(pid, "loginuid").strip()
        umask = re.search(r"^Umask:\s+([0-7]+)", proc_text(pid, "status"), re.M)
        if proc_uid(pid) != uid:
            raise PermissionError("the client went away")
        listener.close()
        conn.close()
        os.setsid()
        step = "cgroup"
        if cgroup:
            with open("/sys/fs/cgroup%s/cgroup.procs" % cgroup.group(1).rstrip("/"), "w") as f:
                f.write("0")
        step = "limits"
        for r, lim in limits.items():
            resource.setrlimit(r, lim)
        try:
            with open("/proc/self/loginuid", "w") as f:
                f.write(loginuid)
        except OSError:
            pass
        os.umask(int(umask.group(1), 8) if umask else 0o022)
        signal.set_wakeup_fd(-1)
        os.closerange(3, 65536)  # the trace file's descriptor too: the child never sees its own trace
        step = "identity"
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        for s in range(1, signal.NSIG):
            if s not in (signal.SIGKILL, signal.SIGSTOP):
                try:
                    signal.signal(s, signal.SIG_DFL)
                except (OSError, ValueError):
                    pass
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        step = "cwd"
        os.chdir(cwd)
        step = "script"
        try:  # the end of the set-up: the trace the client gets starts after this open
            os.close(os.open(MARKER, os.O_RDONLY))
        except OSError:
            pass
        code = run_script(argv, env)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException as e:  # noqa: BLE001 - the set-up failed: said on the client's stderr
        try:
            os.write(2, ("pyti-warm: %s: %s: %s\n" % (step, type(e).__name__, e)).encode())
        except OSError:
            pass
        code = 126
    os._exit(code & 0xFF if isinstance(code, int) else 1)


def run_script(argv, env):
    """Runs argv[0] as __main__ the way `python3 argv...` would; returns the exit code."""
    import io
    import runpy
    import site
    import threading
    import traceback
    os.environ.clear()
    os.environ.update(env)
    script = os.path.abspath(argv[0])
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(script)
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[1:1] = extra
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    tty = os.isatty(1)
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.open(0, "rb", closefd=False), encoding="utf-8", errors="strict")
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.open(1, "wb", buffering=0 if unbuffered else -1, closefd=False),
                                                   encoding="utf-8", errors="strict", line_buffering=tty,
                                                   write_through=unbuffered)
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(io.open(2, "wb", buffering=0, closefd=False), encoding="utf-8",
                                                   errors="backslashreplace", line_buffering=True, write_through=True)
    # The user site a cold start adds (a home the package wrote ~/.local into), then a sitecustomize
    # on PYTHONPATH (PyTI's fallback modules and Windows names), as site.py would at start-up.
    site.USER_BASE = site.USER_SITE = None
    if site.ENABLE_USER_SITE:
        user_site = site.getusersitepackages()
        if os.path.isdir(user_site):
            site.addsitedir(user_site)
    if extra:
        sys.modules.pop("sitecustomize", None)
        try:
            importlib.import_module("sitecustomize")
        except ImportError:
            pass
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 - as the interpreter: the traceback, exit 1
        traceback.print_exc()
        code = 1
    try:
        threading._shutdown()  # noqa: SLF001 - the interpreter's own wait for non-daemon threads
    except Exception:  # noqa: BLE001
        pass
    import atexit
    atexit._run_exitfuncs()  # noqa: SLF001
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    return code


TIMESTAMP = re.compile(rb"^(\d+\.\d+) ")
SPAWN = re.compile(rb"^\d+\.\d+ (?:clone3?|fork|vfork)\(.*\)\s+= (\d+)(?: <[^>]*>)?$")


def trace_file(trace_dir, pid):
    return os.path.join(trace_dir, "t.%d" % pid)


def tree_pids(trace_dir, root):
    """The root and every process its trace files say it started, recursively."""
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        try:
            with open(trace_file(trace_dir, pid), "rb") as f:
                for line in f:
                    m = SPAWN.match(line.rstrip(b"\n"))
                    if m:
                        todo.append(int(m.group(1)))
        except OSError:
            pass
    return seen


def alive(pid):
    try:
        state = proc_text(pid, "stat").rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def c_quote(text):
    out = []
    for b in text.encode("utf-8", "surrogateescape"):
        if b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return '"' + "".join(out) + '"'


def write_trace(trace_dir, root, pids, argv, started, out_fd):
    """Merges the tree's per-process traces into out_fd (see the module comment) and removes them."""
    lines = []
    for order, pid in enumerate(pids):
        path = trace_file(trace_dir, pid)
        try:
            with open(path, "rb") as f:
                body = f.read().split(b"\n")
        except OSError:
            continue
        if pid == root:
            cut = next((i for i, l in enumerate(body) if MARKER.encode() in l), -1)
            body = body[cut + 1:]
        last = started
        for n, line in enumerate(body):
            if not line:
                continue
            m = TIMESTAMP.match(line)
            if m:
                last = float(m.group(1))
            lines.append((last, order, n, b"%d " % pid + line))
        try:
            os.unlink(path)
        except OSError:
            pass
    lines.sort(key=lambda t: t[:3])
    first = ("%d %.6f execve(%s, [%s], 0x0 /* pyti: forked warm */) = 0\n"
             % (root, started, c_quote(sys.executable), ", ".join(c_quote(a) for a in [sys.executable] + argv))).encode()
    chunks = [first] + [l[3] + b"\n" for l in lines]
    data = b"".join(chunks)
    view = memoryview(data)
    while view:
        try:
            n = os.write(out_fd, view)
        except OSError:
            break
        view = view[n:]


class Job:
    """One request: its client, child and trace."""

    def __init__(self, conn, pid, argv, trace_fd, started):
        self.conn, self.pid, self.argv, self.trace_fd, self.started = conn, pid, argv, trace_fd, started
        self.status = None  # the child's wait status once it ended
        self.ended = 0.0
        self.gone = False  # the client closed its end
        self.tree = None


def answer(conn, obj):
    try:
        conn.sendall((json.dumps(obj) + "\n").encode())
    except OSError:
        pass


def serve(sock_path, trace_dir):
    try:
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    os.chmod(sock_path, 0o666)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    try:  # orphans of the children come back here, so a finished tree's processes are reaped
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:  # noqa: BLE001
        pass
    jobs = {}
    print("ready", flush=True)
    while True:
        # A child that ended with processes of its tree still running: look again soon, then less often
        # (each look reads the tree's trace files).
        finishing = [time.time() - j.ended for j in jobs.values() if j.status is not None]
        wait = None if not finishing else 0.05 if min(finishing) < 2 else 0.5
        watched = [j.conn for j in jobs.values() if j.status is None and not j.gone]
        readable, _, _ = select.select([listener, wake_r] + watched, [], [], wait)
        if wake_r in readable:
            os.read(wake_r, 4096)
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in jobs:
                jobs[pid].status, jobs[pid].ended = status, time.time()
        if listener in readable:
            conn, _ = listener.accept()
            conn.settimeout(5)  # a client that connects and sends nothing does not hold the others up
            start(conn, listener, trace_dir, jobs)
        for job in list(jobs.values()):
            if job.conn in readable and job.status is None:
                try:
                    gone = not job.conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:  # the client went away (its task was killed): so does its child
                    job.gone = True
                    try:
                        os.kill(job.pid, signal.SIGKILL)
                    except OSError:
                        pass
            if job.status is not None:
                job.tree = tree_pids(trace_dir, job.pid)
                if any(alive(p) for p in job.tree if p != job.pid):
                    continue  # a cold start's strace also waits for every process of the tree
                finish(job, trace_dir)
                del jobs[job.pid]


def start(conn, listener, trace_dir, jobs):
    try:
        peer = peer_of(conn)
        if peer[1] == 0:
            raise ValueError("root is not served: the warm interpreter runs task users' steps")
        argv, cwd, env, fds = receive(conn)
    except Exception as e:  # noqa: BLE001 - refused: the client starts the step cold
        answer(conn, {"error": str(e)[:500]})
        conn.close()
        return
    conn.settimeout(None)
    started = time.time()
    pid = os.fork()
    if pid == 0:
        become_child(peer, argv, cwd, env, fds, listener, conn)
    for fd in fds[:3]:
        os.close(fd)
    jobs[pid] = Job(conn, pid, argv, fds[3], started)
    answer(conn, {"pid": pid})


def finish(job, trace_dir):
    # strace writes a process's last lines as it reaps it: wait (briefly) until every file has ended.
    deadline = time.time() + 2
    while time.time() < deadline:
        if all(ended(trace_file(trace_dir, p)) for p in job.tree):
            break
        time.sleep(0.02)
    write_trace(trace_dir, job.pid, job.tree, job.argv, job.started, job.trace_fd)
    os.close(job.trace_fd)
    status = job.status
    answer(job.conn, {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"exit": os.WEXITSTATUS(status)})
    job.conn.close()


def ended(path):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 200))
            tail = f.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    except OSError:
        return True
    return b"+++ exited with" in tail or b"+++ killed by" in tail


if __name__ == "__main__":
    n = preload(sys.argv[3])
    sys.stderr.write("pyti-warm: %d modules imported\n" % n)
    try:  # the imports' own trace is nobody's: emptied (strace goes on writing after a hole)
        os.truncate(trace_file(sys.argv[2], os.getpid()), 0)
    except OSError:
        pass
    serve(sys.argv[1], sys.argv[2])
