"""PyTI's sitecustomize for the traced tasks (build, install, import, execute), on their PYTHONPATH.

1. Modules malware assumes without declaring them (requests, colorama, dns, psutil, ...) live in
   /opt/pyti/fallback-modules without metadata: that directory goes to the END of sys.path, so a
   declared dependency installed in the venv always wins and pip never sees these as installed.
2. With PYTI_WINDOWS_SHIMS=1, the Windows-only names of the standard library that payloads touch
   first exist (subprocess.CREATE_NO_WINDOW, STARTUPINFO, os.startfile, ...), Popen accepts and drops
   creationflags/startupinfo, and a command naming a missing `*.exe` runs the generic shim, which
   records it (see winshim.py). sys.platform stays linux: pip and builds must keep working.

Debian's own sitecustomize (shadowed by this one) only installs apport's hook, absent from the image.
Kept lean: every Python process of a traced task runs it under strace.
"""
import os
import sys

FALLBACK = "/opt/pyti/fallback-modules"
if os.path.isdir(FALLBACK) and FALLBACK not in sys.path:
    sys.path.append(FALLBACK)

_HERE = os.path.dirname(os.path.abspath(__file__))
_EXE_SHIM = os.environ.get("PYTI_EXE_SHIM") or os.path.join(os.path.dirname(_HERE), "winshims", "exe")

_CONSTANTS = {
    "CREATE_NO_WINDOW": 0x08000000, "DETACHED_PROCESS": 0x00000008, "CREATE_NEW_CONSOLE": 0x00000010,
    "CREATE_NEW_PROCESS_GROUP": 0x00000200, "CREATE_BREAKAWAY_FROM_JOB": 0x01000000,
    "CREATE_DEFAULT_ERROR_MODE": 0x04000000, "HIGH_PRIORITY_CLASS": 0x00000080,
    "IDLE_PRIORITY_CLASS": 0x00000040, "NORMAL_PRIORITY_CLASS": 0x00000020,
    "BELOW_NORMAL_PRIORITY_CLASS": 0x00004000, "ABOVE_NORMAL_PRIORITY_CLASS": 0x00008000,
    "REALTIME_PRIORITY_CLASS": 0x00000100, "STARTF_USESHOWWINDOW": 0x00000001,
    "STARTF_USESTDHANDLES": 0x00000100, "SW_HIDE": 0, "STD_INPUT_HANDLE": -10,
    "STD_OUTPUT_HANDLE": -11, "STD_ERROR_HANDLE": -12,
}


def _record(shim, argv):
    log = os.environ.get("PYTI_SHIM_LOG")
    if not log:
        return
    import json
    line = json.dumps({"shim": shim, "argv": [str(a)[:4000] for a in argv][:64], "pid": os.getpid()})
    try:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < (1 << 20):
                os.write(fd, (line + "\n").encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except OSError:
        pass


def _startfile(path, operation=None, arguments="", cwd=None, show_cmd=1):
    """os.startfile: records the call and runs nothing."""
    _record("os.startfile", [os.fspath(path), operation or "", arguments or "", cwd or ""])


def _missing_exe(prog):
    """A `*.exe` program Linux cannot run: absent, or not an ELF binary or script (a downloaded PE)."""
    if not isinstance(prog, (str, bytes)) or not os.fsdecode(prog).lower().endswith(".exe"):
        return False
    try:
        with open(os.fsdecode(prog), "rb") as f:
            return f.read(4)[:2] not in (b"\x7fE", b"#!")
    except OSError:
        return True


def _windows_split(line):
    """Splits a command line as Windows programs do, near enough: spaces, "double quotes"."""
    import shlex
    lex = shlex.shlex(line, posix=False)
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        words = list(lex)
    except ValueError:
        words = line.split()
    return [w[1:-1] if len(w) >= 2 and w[0] == w[-1] == '"' else w for w in words]


def _patch_subprocess(mod):
    if getattr(mod, "_pyti_shimmed", False):
        return
    mod._pyti_shimmed = True
    for k, v in _CONSTANTS.items():
        if not hasattr(mod, k):
            setattr(mod, k, v)
    if not hasattr(mod, "STARTUPINFO"):
        class STARTUPINFO:
            """subprocess.STARTUPINFO as on Windows (ignored here)."""
            def __init__(self, *, dwFlags=0, hStdInput=None, hStdOutput=None, hStdError=None,
                         wShowWindow=0, lpAttributeList=None):
                self.dwFlags, self.hStdInput, self.hStdOutput = dwFlags, hStdInput, hStdOutput
                self.hStdError, self.wShowWindow = hStdError, wShowWindow
                self.lpAttributeList = lpAttributeList or {"handle_list": []}

            def copy(self):
                return STARTUPINFO(dwFlags=self.dwFlags, wShowWindow=self.wShowWindow)
        mod.STARTUPINFO = STARTUPINFO
    orig = mod.Popen.__init__

    def __init__(self, args, *a, **kw):
        kw.pop("startupinfo", None)
        kw.pop("creationflags", None)
        if isinstance(args, str) and not kw.get("shell") and not (a and a[0]) and args.strip() \
                and not os.path.exists(args) and any(c.isspace() for c in args):
            args = _windows_split(args)  # a Windows command line (CreateProcess splits it), not a path
        if isinstance(args, (list, tuple)) and args and _missing_exe(args[0]) and os.path.isfile(_EXE_SHIM):
            args = [_EXE_SHIM] + list(args)
        elif _missing_exe(args) and not kw.get("shell") and os.path.isfile(_EXE_SHIM):
            args = [_EXE_SHIM, args]
        orig(self, args, *a, **kw)
    mod.Popen.__init__ = __init__


class _ShimFinder:
    """Patches `subprocess` right after it is first imported (not imported here: most processes never do)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "subprocess":
            return None
        from importlib.machinery import PathFinder
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        orig_exec = loader.exec_module

        def exec_module(module):
            orig_exec(module)
            _patch_subprocess(module)
        try:
            loader.exec_module = exec_module
        except AttributeError:
            return spec
        return spec


if os.environ.get("PYTI_WINDOWS_SHIMS") == "1":
    if not hasattr(os, "startfile"):
        os.startfile = _startfile
    if "subprocess" in sys.modules:
        _patch_subprocess(sys.modules["subprocess"])
    else:
        sys.meta_path.insert(0, _ShimFinder)
