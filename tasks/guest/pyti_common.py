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
             "benchmarks", "benchmark", "bench", ".git", ".tox", ".nox", "venv", ".venv", "__pycache__",
             "site-packages", "node_modules", "htmlcov"}


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


# Top-level files that are build helpers, test runners or configuration, not the package's modules.
NOT_MODULES = {"setup.py", "conftest.py", "noxfile.py", "fabfile.py", "tasks.py", "versioneer.py",
               "ez_setup.py", "distribute_setup.py", "conf.py", "runtests.py", "run_tests.py",
               "bootstrap.py", "pavement.py", "dodo.py", "build_helpers.py", "setup_helpers.py"}
MAX_BASES = 20


def _inside(root, rel):
    """root/rel when rel is a relative path that stays inside root (a package_dir value), else None."""
    rel = (rel or "").strip().strip("\"'")
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    if rel.startswith("/") or ".." in parts:
        return None
    return os.path.join(root, *parts) if parts else root


def declared_package_dirs(root):
    """The `package_dir` mappings the project declares, read as text (setup.py is never run):
    setup.cfg `[options] package_dir`, pyproject `[tool.setuptools] package-dir`, and a literal
    `package_dir={...}` in setup.py. Returns {package name ('' for the root package): directory}."""
    found = {}
    cfg = os.path.join(root, "setup.cfg")
    if os.path.isfile(cfg):
        import configparser
        parser = configparser.RawConfigParser(strict=False)
        try:
            parser.read(cfg, encoding="utf-8")
            value = parser.get("options", "package_dir", fallback="") or ""
        except (configparser.Error, UnicodeDecodeError, OSError):
            value = ""
        for line in value.replace(",", "\n").splitlines():
            if "=" in line:
                key, _, path = line.partition("=")
                found.setdefault(key.strip(), path.strip())
    pyproject = os.path.join(root, "pyproject.toml")
    if os.path.isfile(pyproject):
        try:
            import tomllib
            with open(pyproject, "rb") as f:
                tool = tomllib.load(f).get("tool", {}).get("setuptools", {})
            mapping = tool.get("package-dir") or tool.get("package_dir") or {}
            if isinstance(mapping, dict):
                for key, path in mapping.items():
                    if isinstance(key, str) and isinstance(path, str):
                        found.setdefault(key, path)
        except Exception:  # noqa: BLE001 - a broken pyproject declares nothing here
            pass
    setup_py = os.path.join(root, "setup.py")
    if os.path.isfile(setup_py):
        try:
            with open(setup_py, "rb") as f:
                text = f.read(1 << 20).decode("utf-8", "replace")
        except OSError:
            text = ""
        for block in re.findall(r"package_dir\s*=\s*\{([^}]{0,2000})\}", text):
            for key, path in re.findall(r"""['"]([^'"]*)['"]\s*:\s*['"]([^'"]+)['"]""", block):
                found.setdefault(key, path)
        for call in re.findall(r"package_dir\s*=\s*dict\(([^)]{0,2000})\)", text):
            for key, path in re.findall(r"""(\w+)\s*=\s*['"]([^'"]+)['"]""", call):
                found.setdefault(key, path)
    return found


def module_bases(root):
    """Directories that hold the project's top-level packages: the declared root package_dir, src/,
    lib/ and the root itself (in that order, existing ones only)."""
    declared = declared_package_dirs(root)
    bases = []
    for cand in [_inside(root, declared.get(""))] if "" in declared else []:
        if cand and os.path.isdir(cand):
            bases.append(cand)
    for sub in ("src", "lib"):
        path = os.path.join(root, sub)
        if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "__init__.py")):
            bases.append(path)
    bases.append(root)
    out = []
    for b in bases:
        if os.path.realpath(b) not in [os.path.realpath(o) for o in out]:
            out.append(b)
    return out[:MAX_BASES]


def _skipped(name):
    return (name.startswith(".") or name in SKIP_DIRS or name.endswith((".dist-info", ".egg-info"))
            or name.startswith(("test_", "bench_")) or name.endswith("_test.py"))


def _read_text(path, limit=1 << 20):
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def declared_root_modules(root):
    """Names a project declares as its single-file modules or as itself (normalized, `_` for `-`):
    setup.cfg `py_modules` and `name`, pyproject `[tool.setuptools] py-modules`, `[project] name`,
    `[tool.poetry] name`, setup.py's literal `py_modules=[...]` and `name=...`, PKG-INFO's Name."""
    names = set()
    cfg = os.path.join(root, "setup.cfg")
    if os.path.isfile(cfg):
        import configparser
        parser = configparser.RawConfigParser(strict=False)
        try:
            parser.read(cfg, encoding="utf-8")
            names.update(re.split(r"[\s,]+", parser.get("options", "py_modules", fallback="") or ""))
            names.add(parser.get("metadata", "name", fallback="") or "")
        except (configparser.Error, UnicodeDecodeError, OSError):
            pass
    pyproject = os.path.join(root, "pyproject.toml")
    if os.path.isfile(pyproject):
        try:
            import tomllib
            with open(pyproject, "rb") as f:
                data = tomllib.load(f)
            mods = data.get("tool", {}).get("setuptools", {}).get("py-modules") or []
            names.update(m for m in mods if isinstance(m, str))
            for name in (data.get("project", {}).get("name"), data.get("tool", {}).get("poetry", {}).get("name")):
                if isinstance(name, str):
                    names.add(name)
        except Exception:  # noqa: BLE001 - a broken pyproject declares nothing
            pass
    text = _read_text(os.path.join(root, "setup.py"))
    for block in re.findall(r"py_modules\s*=\s*\[([^\]]{0,2000})\]", text):
        names.update(re.findall(r"""['"]([\w.-]+)['"]""", block))
    names.update(re.findall(r"""\bname\s*=\s*['"]([\w.-]+)['"]""", text))
    m = re.search(r"(?m)^Name:\s*(\S+)", _read_text(os.path.join(root, "PKG-INFO"), 64 << 10))
    if m:
        names.add(m.group(1))
    return {re.sub(r"[-.]+", "_", n.strip()).lower() for n in names if n and n.strip()}


def find_modules(root):
    """Top-level importable packages and modules of a source tree, less tests, docs, examples,
    benchmarks and build helpers (versioneer.py, setup.py, conftest.py, Sphinx's conf.py, ...):
    - the packages of any package_dir the project declares (see declared_package_dirs);
    - the packages and modules in src/, lib/ or the declared root package_dir; when there are any,
      the root's own files are the project's scripts and helpers, not its modules;
    - else the root's packages, and its single-file modules: all of them when there is no package
      (six.py, docopt.py), else only those the project declares (py_modules, its own name), so a
      `benchmark.py` or maintenance script beside the package is left out."""
    found, seen = [], set()

    def add(path):
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            found.append(path)
    for key, rel in sorted(declared_package_dirs(root).items()):
        path = _inside(root, rel) if key else None
        if path and os.path.isdir(path) and os.path.isfile(os.path.join(path, "__init__.py")):
            if not _skipped(os.path.basename(path)) and key.split(".")[0] not in SKIP_DIRS:
                add(path)
    bases = module_bases(root)

    def entries(base):
        packages, modules = [], []
        try:
            names = sorted(os.listdir(base))
        except OSError:
            return packages, modules
        for name in names:
            path = os.path.join(base, name)
            if _skipped(name) or path in bases:
                continue
            if os.path.isdir(path) and os.path.isfile(os.path.join(path, "__init__.py")):
                packages.append(path)
            elif name.endswith(".py") and name not in NOT_MODULES and os.path.isfile(path):
                modules.append(path)
        return packages, modules
    in_bases = False
    for base in bases:
        if base == root:
            continue
        packages, modules = entries(base)
        for p in packages + modules:
            add(p)
            in_bases = True
    if in_bases:
        return found
    packages, modules = entries(root)
    for p in packages:
        add(p)
    try:  # an unpacked wheel: every file at its root is installed, so every module there is one
        wheel = any(n.endswith(".dist-info") for n in os.listdir(root))
    except OSError:
        wheel = False
    if packages and not wheel:
        declared = declared_root_modules(root)
        modules = [m for m in modules if os.path.basename(m)[:-3].lower() in declared]
    for m in modules:
        add(m)
    return found


def run(cmd, **kw):
    """Runs cmd with output passed through; returns the exit code."""
    sys.stdout.flush()
    return subprocess.call(cmd, **kw)


def traced_capture(python, script_argv, trace_path, cwd=None):
    """capture(STRACE + ["-o", trace_path, python] + script_argv, cwd=cwd): the step runs under strace
    into trace_path. When `python` is this interpreter and the guest's warm Python is there, the step is
    forked from it (pyti_warm.py: no start-up, no imports) with the same trace. Returns (exit code,
    combined output, whether it was forked warm)."""
    if python == sys.executable:
        from pyti_warm import warm_capture
        done = warm_capture(script_argv, trace_path, cwd)
        if done is not None:
            return done[0], done[1], True
    code, output = capture(STRACE + ["-o", trace_path, python] + list(script_argv), cwd=cwd)
    return code, output, False


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
