"""Helpers shared by PyTI's in-guest task scripts. Kept small: they run inside traced processes."""
import json
import os
import re
import subprocess
import sys

# strace options of every traced step: follow forks, absolute timestamps, fd paths, enough of each
# string to decode DNS queries, and only the syscalls the host analyses (opens, file changes,
# network, processes) plus, where package code runs, the probes a stealer's sweep is made of:
# newfstatat (os.stat, os.path.exists on x86_64 glibc), statx, access/faccessat. Measured (2026-12-02,
# host, loaded 2-core machine, medians of 3): building cext-pkg 3.4 s/1.17 MB -> 5.1 s/3.10 MB with
# probes; a pip install of a wheel 0.98 s/0.39 MB -> 1.35 s/1.25 MB (most added lines are fstat of open
# fds, which the host skips). A wheel's install runs no package code, so `install` is traced without
# the probes. Keep in step with tasks/src/traced-calls.ts (a test compares them).
# --seccomp-bpf stops the traced processes only on those syscalls: the rest run at full speed.
TRACED_FILE_CALLS = ("open,openat,openat2,creat,unlink,unlinkat,rmdir,rename,renameat,renameat2,"
                     "chmod,fchmod,fchmodat,mkdir,mkdirat,symlink,symlinkat,link,linkat,truncate,"
                     "chdir,fchdir")
PROBE_CALLS = "newfstatat,statx,access,faccessat,faccessat2"
_PROBES = "" if os.environ.get("PYTI_TASK") == "install" else "," + PROBE_CALLS
STRACE = ["strace", "-f", "--seccomp-bpf", "-ttt", "-yy", "-s", "512",
          "-e", "trace=%network,%process," + TRACED_FILE_CALLS + _PROBES,
          "-e", "signal=all"]

SKIP_DIRS = {"tests", "test", "testing", "docs", "doc", "examples", "example", "build", "dist",
             "benchmarks", ".git", ".tox", "venv", ".venv", "__pycache__"}


def normalize(name):
    """PEP 503 name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)


def read_json(path, default=None):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


NOT_MODULES = {"setup.py", "conftest.py", "noxfile.py", "fabfile.py", "tasks.py"}


def find_modules(root):
    """Top-level importable packages and modules of a source tree (flat or src/ layout)."""
    bases = [root]
    if os.path.isdir(os.path.join(root, "src")):
        bases.insert(0, os.path.join(root, "src"))
    found = []
    for base in bases:
        for name in sorted(os.listdir(base)):
            path = os.path.join(base, name)
            if name.startswith(".") or name in SKIP_DIRS or name.endswith((".dist-info", ".egg-info")):
                continue
            if os.path.isdir(path) and os.path.isfile(os.path.join(path, "__init__.py")):
                found.append(path)
            elif name.endswith(".py") and name not in NOT_MODULES and not name.startswith("test_"):
                found.append(path)
    return found


def run(cmd, **kw):
    """Runs cmd with output passed through; returns the exit code."""
    sys.stdout.flush()
    return subprocess.call(cmd, **kw)


def capture(cmd, **kw):
    """Runs cmd, echoing its output, and returns (exit code, combined output)."""
    sys.stdout.flush()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    chunks = []
    for line in iter(p.stdout.readline, b""):
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
        chunks.append(line)
    p.wait()
    return p.returncode, b"".join(chunks).decode("utf-8", "replace")
