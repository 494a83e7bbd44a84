"""Traced steps forked from the guest's warm Python (vm-agent/guest/warm_python.py) instead of started.

In a VM guest the agent keeps a root Python process with the build's and installer's modules
imported, under `strace -ff`; a helper asks it to fork `python3 SCRIPT ARGS` as the helper's own user,
with the helper's stdin and a pipe for the output, and gets the child's trace, merged, in the file
it names: what `strace -f -o TRACE python3 SCRIPT ARGS` run from here would have produced, without
the interpreter's start-up and imports. Elsewhere (bwrap, chroot, a cold-booted guest whose server is
not ready yet) there is no socket and `traced_capture` starts the step cold, as always.
"""
import array
import json
import os
import socket
import struct
import sys

SOCKET = "/run/pyti/warm/python.sock"  # vm-agent/src/warm-python.ts WARM_SOCKET


def _send(sock, payload, fds):
    body = json.dumps(payload).encode()
    msg = struct.pack(">I", len(body)) + body
    sent = sock.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    if sent < len(msg):
        sock.sendall(msg[sent:])


def _replies(sock):
    buf = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                yield json.loads(line)
            except ValueError:
                return


def warm_capture(script_argv, trace_path, cwd=None, echo=True):
    """Runs `python3 SCRIPT ARGS` (script_argv) forked warm, its trace written to trace_path.
    Returns (exit code, combined output) like pyti_common.capture, or None when the warm Python is
    not there or refused (the caller then starts the step cold; nothing has run)."""
    if os.environ.get("PYTI_WARM_PYTHON") == "0" or not os.path.exists(SOCKET):
        return None
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(SOCKET)
    except OSError:
        return None
    read_end, write_end = os.pipe()
    trace_fd = os.open(trace_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        sys.stdout.flush()
        _send(sock, {"argv": [os.path.abspath(script_argv[0])] + list(script_argv[1:]),
                     "cwd": os.path.abspath(cwd or os.getcwd()), "env": dict(os.environ)},
              [0, write_end, write_end, trace_fd])
    except OSError:
        for fd in (read_end, write_end, trace_fd):
            os.close(fd)
        sock.close()
        return None
    os.close(write_end)
    os.close(trace_fd)
    replies = _replies(sock)
    first = next(replies, None)
    if not first or "pid" not in first:
        os.close(read_end)
        sock.close()
        return None
    chunks = []
    with os.fdopen(read_end, "rb") as out:
        for line in iter(out.readline, b""):
            if echo:
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
            chunks.append(line)
    code = 1
    for reply in replies:
        if "exit" in reply:
            code = int(reply["exit"])
            break
        if "signal" in reply:
            code = -int(reply["signal"])
            break
    sock.close()
    return code, b"".join(chunks).decode("utf-8", "replace")
