"""Task `execute`: run the installed distribution's code the way a user would, under strace.

Usage: VENV/bin/python execute_dist.py META_DIR RAW_DIR
Re-runs itself under strace (pyti_common.STRACE, RAW_DIR/execute.strace). Then: every console and
GUI script with --help (subprocesses), every other entry point loaded and called, every top-level
module and its submodules imported, and every public function called and public class instantiated
(its public methods called) with harmless arguments: none, else by annotation or "None" (like
OpenSSF package-analysis's dynamic analysis). Each call runs in a forked child, so a hang, a crash or
os._exit ends only that call; CALL_SECONDS per call, at most MAX_CALLS calls and TOTAL_SECONDS.
Writes RAW_DIR/execute.json: {"distribution", "calls": [{"kind", "target", "outcome", "detail"}],
"truncated"}. Exits 0 unless the distribution cannot be found (payload failures are data).
"""
import importlib
import importlib.metadata as md
import inspect
import json
import os
import pkgutil
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from import_all import importable  # noqa: E402
from pyti_common import STRACE  # noqa: E402

CALL_SECONDS = 10
MAX_CALLS = 300
TOTAL_SECONDS = 120
MAX_SUBMODULES = 200
MAX_METHODS = 20
BY_ANNOTATION = {str: "", int: 0, float: 0.0, bool: False, bytes: b"", list: [], dict: {}, tuple: ()}


class Budget:
    def __init__(self):
        self.start = time.monotonic()
        self.calls = []
        self.truncated = False

    def room(self):
        if len(self.calls) >= MAX_CALLS or time.monotonic() - self.start > TOTAL_SECONDS:
            self.truncated = True
            return False
        return True

    def add(self, kind, target, outcome, detail=""):
        self.calls.append({"kind": kind, "target": target[:300], "outcome": outcome, "detail": str(detail)[:500]})
        print("execute %s %s: %s %s" % (kind, target, outcome, str(detail)[:200]), flush=True)


def harmless_args(func):
    """Positional and keyword arguments for func's required parameters (none when it has none)."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return [], {}
    args, kwargs = [], {}
    for p in sig.parameters.values():
        if p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = BY_ANNOTATION.get(p.annotation, None)
        if p.annotation in ("str", "int", "float", "bool", "bytes"):
            value = {"str": "", "int": 0, "float": 0.0, "bool": False, "bytes": b""}[p.annotation]
        if p.kind == p.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            args.append(value)
    return args, kwargs


def in_child(budget, kind, target, body):
    """Runs body() in a forked child, at most CALL_SECONDS; records how it ended."""
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        signal.alarm(CALL_SECONDS + 1)
        try:
            detail = body()
            msg = {"outcome": "ok", "detail": detail or ""}
        except BaseException as e:  # SystemExit and KeyboardInterrupt from payloads too
            msg = {"outcome": "error", "detail": "%s: %s" % (type(e).__name__, e)}
        try:
            sys.stdout.flush()
            os.write(w, json.dumps(msg, default=str)[:4000].encode("utf-8", "replace"))
        except BaseException:
            pass
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + CALL_SECONDS
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([r], [], [], left)
        if not ready:
            break
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    timed_out = time.monotonic() >= deadline
    if timed_out:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    _, status = os.waitpid(pid, 0)
    if timed_out:
        budget.add(kind, target, "timeout", "%d s" % CALL_SECONDS)
        return
    try:
        msg = json.loads(data.decode("utf-8", "replace"))
        budget.add(kind, target, msg.get("outcome", "error"), msg.get("detail", ""))
    except ValueError:
        how = "signal %d" % os.WTERMSIG(status) if os.WIFSIGNALED(status) else "exit %d" % os.WEXITSTATUS(status)
        budget.add(kind, target, "exited", how)


def call_harmlessly(obj):
    args, kwargs = harmless_args(obj)
    result = obj(*args, **kwargs)
    if inspect.isclass(obj):
        called = 0
        for name, meth in inspect.getmembers(result, callable):
            if name.startswith("_") or called >= MAX_METHODS:
                continue
            called += 1
            try:
                a, k = harmless_args(meth)
                meth(*a, **k)
            except BaseException:  # noqa: BLE001 - the next method still runs
                pass
        return "instance of %s, %d methods called" % (obj.__name__, called)
    return "returned %s" % type(result).__name__


def run_scripts(budget, dist):
    bindir = os.path.join(sys.prefix, "bin")
    eps = list(dist.entry_points)
    for ep in eps:
        if not budget.room():
            return
        if ep.group in ("console_scripts", "gui_scripts"):
            path = os.path.join(bindir, ep.name)
            cmd = [path, "--help"] if os.path.isfile(path) else \
                [sys.executable, "-c", "import sys; from %s import %s as f; sys.argv[0] = %r; sys.exit(f())"
                 % (ep.module, (ep.attr or "main").split(".")[0], ep.name), "--help"]
            try:
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, timeout=CALL_SECONDS)
                budget.add("script", ep.name, "ok" if p.returncode == 0 else "exit", "exit %d" % p.returncode)
            except subprocess.TimeoutExpired:
                budget.add("script", ep.name, "timeout", "%d s" % CALL_SECONDS)
            except OSError as e:
                budget.add("script", ep.name, "error", e)
        else:
            def body(ep=ep):
                obj = ep.load()
                return call_harmlessly(obj) if callable(obj) else "loaded %s" % type(obj).__name__
            in_child(budget, "entry-point", "%s:%s" % (ep.group, ep.name), body)


def modules_of(top):
    """The top-level module and its submodules (imported here; failures are recorded by the caller)."""
    names = [top]
    mod = importlib.import_module(top)
    for info in pkgutil.walk_packages(getattr(mod, "__path__", []) or [], prefix=top + ".", onerror=lambda n: None):
        if len(names) >= MAX_SUBMODULES:
            break
        if info.name.rsplit(".", 1)[-1].startswith(("test", "_")):
            continue
        names.append(info.name)
    return names


def public_callables(modname, top):
    mod = sys.modules[modname]
    exported = getattr(mod, "__all__", None)
    for name, obj in sorted(vars(mod).items()):
        if name.startswith("_") or (exported is not None and name not in exported):
            continue
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        owner = getattr(obj, "__module__", "") or ""
        if owner != top and not owner.startswith(top + "."):
            continue  # re-exported from elsewhere (os.system, ...): not this distribution's code
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        yield name, obj


def timed_import(name):
    def alarm(*_):
        raise TimeoutError("import took more than %d s" % CALL_SECONDS)
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(CALL_SECONDS)
    try:
        importlib.import_module(name)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def main():
    meta_dir, raw = sys.argv[1:3]
    with open(os.path.join(meta_dir, "inspect.json"), encoding="utf-8") as f:
        name = json.load(f)["name"]
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        print("execute: distribution %s is not installed" % name)
        return 2
    budget = Budget()
    run_scripts(budget, dist)
    seen = set()
    for top in importable(dist):
        try:
            timed_import(top)
            names = modules_of(top)
        except BaseException as e:  # noqa: BLE001
            budget.add("import", top, "error", "%s: %s" % (type(e).__name__, e))
            continue
        for modname in names:
            if not budget.room():
                break
            if modname != top:
                try:
                    timed_import(modname)
                except BaseException as e:  # noqa: BLE001
                    budget.add("import", modname, "error", "%s: %s" % (type(e).__name__, e))
                    continue
            budget.add("import", modname, "ok")
            for attr, obj in public_callables(modname, top):
                if id(obj) in seen or not budget.room():
                    continue
                seen.add(id(obj))
                kind = "class" if inspect.isclass(obj) else "function"
                in_child(budget, kind, "%s.%s" % (modname, attr), lambda obj=obj: call_harmlessly(obj))
    with open(os.path.join(raw, "execute.json"), "w", encoding="utf-8") as f:
        json.dump({"distribution": dist.metadata["Name"], "calls": budget.calls, "truncated": budget.truncated}, f, indent=1)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--traced":
        del sys.argv[1]
        sys.exit(main())
    raw_dir = sys.argv[2]
    sys.stdout.flush()
    sys.exit(subprocess.call(STRACE + ["-o", os.path.join(raw_dir, "execute.strace"), sys.executable,
                                       os.path.abspath(__file__), "--traced"] + sys.argv[1:]))
