"""The test environment of PyTI's test and perf tasks: the venv copy, the test requirements, the
project's test layout, and the pytest command line. Run by the image's python3.
"""
import configparser
import fnmatch
import glob
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyti_install_plan as ip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN_DIR = os.path.join(HERE, "pytest_plugin")
IMAGE_SITE = "/usr/lib/python3/dist-packages"
# Written into the test venv's site-packages when pytest or coverage come from the image: site.py
# appends the line to the END of sys.path, so the venv's packages always win.
IMAGE_TOOLS_PTH = "zzz-pyti-image-tools.pth"
TOOLS = ("pytest", "coverage")
SKIP_DIRS = {"docs", "doc", "build", "dist", "venv", ".venv", "env", ".tox", ".nox", ".git", "node_modules",
             "__pycache__", "site-packages", "examples", "example", "benchmarks", "bench"}
DEFAULT_PATTERNS = ("test_*.py", "*_test.py")
MISSING_PATTERNS = [
    r"No matching distribution found for ([^\s;]+)",
    r"Could not find a version that satisfies the requirement ([^\s;]+)",
]
REQ_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\s*\[[^\]]*\])?\s*[^\n\r]*$")


def normalize(name):
    """PEP 503 name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def req_name(req):
    """The project name of a PEP 508 string (or of pip's "X>=1" in its messages)."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    return normalize(m.group(1)) if m else req.strip()


# ---------------------------------------------------------------- requirements

def without_version(req):
    """A PEP 508 requirement without its version specifier (extras and marker kept); None when it has
    none or is a direct reference. Mirrors withoutVersion in slave/src/prefetch/test-prefetch.ts."""
    m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(;.*)?$", req)
    if not m or not m.group(3) or "@" in m.group(3):
        return None
    return m.group(1) + re.sub(r"\s+", "", m.group(2) or "") + ((" " + m.group(4).strip()) if m.group(4) else "")


def read_requirements(path):
    """pyti-test-requirements.json as (requirements, unresolved, sources, relaxed); None when absent or unreadable."""
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    reqs = [r.strip() for r in doc.get("requirements") or [] if isinstance(r, str) and REQ_OK.match(r.strip())][:500]
    unresolved = []
    for u in doc.get("unresolved") or []:
        if isinstance(u, dict) and isinstance(u.get("requirement"), str):
            unresolved.append({"requirement": u["requirement"][:300], "reason": str(u.get("reason") or "")[:500]})
    sources = [s[:200] for s in doc.get("sources") or [] if isinstance(s, str)][:100]
    relaxed = [{"requirement": x["requirement"][:300], "relaxed_to": x["relaxedTo"][:300]} for x in doc.get("relaxed") or []
               if isinstance(x, dict) and isinstance(x.get("requirement"), str) and isinstance(x.get("relaxedTo"), str)][:200]
    return reqs, unresolved[:200], sources, relaxed


def site_packages(venv):
    found = sorted(glob.glob(os.path.join(venv, "lib", "python3*", "site-packages")))
    return found[0] if found else None


def copy_venv(venv, dest):
    """A private copy of the install task's venv (owned by another task's user): the test task
    installs its requirements there, and entry-point scripts point at the copy."""
    shutil.copytree(venv, dest, symlinks=True)
    bindir = os.path.join(dest, "bin")
    old, new = ("#!" + os.path.join(venv, "bin", "python")).encode(), ("#!" + os.path.join(dest, "bin", "python")).encode()
    for name in os.listdir(bindir):
        p = os.path.join(bindir, name)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        try:
            with open(p, "rb") as f:
                head = f.read(len(old) + 2)
                if not head.startswith(old):
                    continue
                data = head + f.read()
            with open(p, "wb") as f:
                f.write(new + data[len(old):])
        except OSError:
            pass
    return dest


def image_tools_visible(venv, on):
    """Makes the image's pytest/coverage visible at the end of the venv's sys.path (or not)."""
    sp = site_packages(venv)
    if not sp:
        return
    pth = os.path.join(sp, IMAGE_TOOLS_PTH)
    if on:
        with open(pth, "w") as f:
            f.write(IMAGE_SITE + "\n")
    elif os.path.exists(pth):
        os.remove(pth)


def venv_has(venv, module):
    code = "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec(%r) else 1)" % module
    return subprocess.call([os.path.join(venv, "bin", "python"), "-P", "-c", code],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def pip_install(venv, wheelhouse, reqs, capture):
    """pip (the image's) installs reqs into the venv offline; returns (exit code, missing names, output tail)."""
    cmd = [sys.executable, "-m", "pip", "--python", os.path.join(venv, "bin", "python"), "install",
           "--no-index", "--find-links", wheelhouse, "--disable-pip-version-check", "--no-input"] + reqs
    code, output = capture(cmd)
    missing = []
    for p in MISSING_PATTERNS:
        for m in re.findall(p, output):
            if m not in missing:
                missing.append(m)
    tail = "\n".join([line for line in output.splitlines() if line.strip()][-5:])[-2000:]
    return code, missing, tail


def installed_versions(venv):
    """Normalized project name -> version of the distributions in the venv's site-packages (from the
    .dist-info directory names, without starting an interpreter)."""
    out = {}
    try:
        names = os.listdir(site_packages(venv))
    except OSError:
        return out
    for n in names:
        if n.endswith(".dist-info") and "-" in n:
            name, version = n[:-len(".dist-info")].rsplit("-", 1)
            out[normalize(name)] = version
    return out


def install_planned(venv, wheelhouse, wanted, test_wheels, capture):
    """Installs `wanted` (requirement strings) from what the venv has and the host's planned test wheels,
    no resolver: the closure of the requirements (ip.closure), preferring what is installed; a planned
    wheel of another version than the installed one replaces it. Returns (missing requirements, error or
    None, names of the wheels installed). Raises ip.PlanError (a wheel not as the host planned it)."""
    sp = site_packages(venv)
    installed = ip.installed_dists(sp) if sp else {}
    planned = ip.planned_dists(wheelhouse, test_wheels)
    candidates = {k: [d] for k, d in installed.items()}
    for k, d in planned.items():
        candidates.setdefault(k, []).append(d)
    order, missing, problems = ip.closure(wanted, candidates)
    if missing:
        return missing, None, []
    if problems:
        return [], "; ".join(problems)[:2000], []
    new = [d for d in order if d.path]
    for d in new:
        if d.key in installed:
            ip.uninstall(installed[d.key], venv)
    if not new:
        return [], None, []
    code, output = capture([os.path.join(venv, "bin", "python"), os.path.join(HERE, "pyti_wheel_install.py")] + [d.path for d in new])
    if code != 0:
        tail = "\n".join([line for line in output.splitlines() if line.strip()][-5:])[-2000:]
        return [], tail or "the installer exited with %d" % code, []
    return [], None, [d.filename for d in new]


def prepare_requirements(venv, wheelhouse, reqs, capture, plan_path=None):
    """Installs pytest, coverage and the test requirements: the host's planned test wheels with PyPA's
    installer when the install plan has them (`installer`: "installer"), else (no plan, or requirements
    the plan cannot meet that the wheelhouse has: `resolver_fallback`) the image's pip resolves from the
    wheelhouse. Returns a dict for pytest.json: installed (list), image_tools (names taken from the
    image), relaxed (requirements the wheelhouse has the project of but not at a matching version:
    installed by their bare name, as the host's prefetch does), missing (names) and error."""
    have = ip.wheelhouse_projects(wheelhouse)
    from_image = [t for t in TOOLS if t not in have]
    info = {"requirements": reqs, "image_tools": from_image}
    if from_image:
        # Visible to pip too: requirements that depend on pytest resolve against the image's copy.
        image_tools_visible(venv, True)
    # A requirement on pytest or coverage that the wheelhouse lacks is met by the image's copy.
    kept = [r for r in reqs if req_name(r) not in from_image]
    wanted = [t for t in TOOLS if t in have and t not in {req_name(r) for r in kept}] + kept
    if not wanted:
        return info
    try:
        plan = ip.read_plan(plan_path)
    except ip.PlanError as e:
        info.update(error=str(e)[:2000], missing=[])
        return info
    if plan is not None and plan["test"] is not None:
        try:
            missing, error, new = install_planned(venv, wheelhouse, wanted, plan["test"], capture)
        except ip.PlanError as e:
            info.update(error=str(e)[:2000], missing=[])
            return info
        info["installer"] = "installer"
        if error:
            info.update(error=error, missing=[])
            return info
        if not missing:
            info.update(installed=wanted, installed_wheels=new)
            return info
        in_wheelhouse = [m for m in missing if req_name(m) in have]
        if not in_wheelhouse:
            info.update(missing=missing, error="not in the wheelhouse: " + ", ".join(missing))
            return info
        info["resolver_fallback"] = {"reason": ("the test requirements need what the host did not resolve and the wheelhouse has: "
                                                + ", ".join(in_wheelhouse))[:1000], "requirements": missing[:100]}
        print("test: " + info["resolver_fallback"]["reason"] + "; pip resolves from the wheelhouse")
    elif plan is not None:
        # The host could not resolve the test environment (the plan's notes say why): pip does, relaxing pins.
        why = "; ".join(plan["notes"]) or "the host did not resolve the test requirements"
        info["resolver_fallback"] = {"reason": why[:1000], "requirements": wanted[:100]}
    info["installer"] = "pip"
    relaxed = []
    for _ in range(3):
        code, missing, tail = pip_install(venv, wheelhouse, wanted, capture)
        if code == 0:
            break
        culprits = {req_name(m) for m in missing}
        changed = False
        for i, r in enumerate(wanted):
            loose = without_version(r) if req_name(r) in culprits and req_name(r) in have else None
            if loose:
                wanted[i] = loose
                relaxed.append({"requirement": r, "relaxed_to": loose})
                changed = True
        if not changed:
            break
    if relaxed:
        info["relaxed"] = relaxed
    if code != 0:
        info["missing"] = missing or []
        info["error"] = tail or "pip exited with %d" % code
    else:
        info["installed"] = wanted
    return info


# ---------------------------------------------------------------- layout

def pytest_config(root):
    """The pytest ini-options of the project's root config, as pytest would pick it (first match):
    pytest.ini, .pytest.ini, pyproject.toml [tool.pytest.ini_options], tox.ini [pytest],
    setup.cfg [tool:pytest]. Returns (file name or None, options dict of strings/lists)."""
    for name in ("pytest.ini", ".pytest.ini"):
        p = os.path.join(root, name)
        if os.path.isfile(p):
            return name, _ini_section(p, "pytest") or {}
    p = os.path.join(root, "pyproject.toml")
    if os.path.isfile(p):
        try:
            import tomllib
            with open(p, "rb") as f:
                opts = tomllib.load(f).get("tool", {}).get("pytest", {}).get("ini_options")
            if isinstance(opts, dict):
                return "pyproject.toml", opts
        except Exception:  # pytest would report the broken file itself
            pass
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        p = os.path.join(root, name)
        if os.path.isfile(p):
            opts = _ini_section(p, section)
            if opts is not None:
                return name, opts
    return None, {}


def _ini_section(path, section):
    cp = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        cp.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        return None
    if not cp.has_section(section):
        return None
    return dict(cp.items(section))


def opt_list(opts, key):
    v = opts.get(key)
    if v is None:
        return []
    if isinstance(v, list):
        return [str(x) for x in v]
    return str(v).split()


def _matches(name, patterns):
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def packages_in(base):
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    return [n for n in names if n not in SKIP_DIRS and not n.startswith(".")
            and os.path.isfile(os.path.join(base, n, "__init__.py"))]


def discover(root, opts):
    """What to pass pytest: (args, why). args None: the config's testpaths decide (no args); []
    pytest from the root with no paths, as a maintainer's plain `pytest` collects (tests at the root,
    in tests/, inside packages, under src/, anywhere pytest's python_files and norecursedirs reach),
    or nothing found (why `none`: no test file anywhere and no doctest option)."""
    if opt_list(opts, "testpaths"):
        return None, "testpaths"
    patterns = opt_list(opts, "python_files") or list(DEFAULT_PATTERNS)
    addopts = " ".join(opt_list(opts, "addopts"))
    if "--doctest" in addopts or _any_matching(root, patterns):
        return [], "root"
    return [], "none"


def _any_matching(root, patterns, limit=20000):
    seen = 0
    for base, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        for f in files:
            seen += 1
            if seen > limit:
                return False
            if f.endswith(".py") and f != "setup.py" and _matches(f, patterns):
                return True
    return False


def inplace_extensions(tree, venv):
    """Flat layouts: the compiled extensions of the installed package, and modules its build generated
    (a `_version.py` written by setuptools-scm), copied into the tree's package directories where
    missing: an in-place build, as CI's `pip install -e .` gives, so the tree's copy imports."""
    sp = site_packages(venv)
    copied = []
    if not sp:
        return copied
    for pkg in packages_in(tree):
        installed = os.path.join(sp, pkg)
        if not os.path.isdir(installed):
            continue
        for base, dirs, files in os.walk(installed):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in files:
                if not f.endswith((".so", ".pyd", ".py")):
                    continue
                rel = os.path.relpath(os.path.join(base, f), sp)
                target = os.path.join(tree, rel)
                if os.path.isdir(os.path.dirname(target)) and not os.path.exists(target):
                    shutil.copy2(os.path.join(base, f), target)
                    copied.append(rel)
    return copied[:200]


# ---------------------------------------------------------------- running pytest

LAUNCHER = '''import os
import sys
cov = None
data = os.environ.pop("PYTI_COVERAGE_DATA", "")
if data:
    try:
        import coverage
    except ImportError:
        print("pyti: coverage is not importable: the tests run without it", file=sys.stderr)
    else:
        # source_pkgs: by import name, wherever imported (a `source` name that is also a directory of
        # the tree would be measured as that directory, even when the tests import the installed copy).
        source = [s for s in os.environ.pop("PYTI_COVERAGE_SOURCE", "").split(",") if s] or None
        cov = coverage.Coverage(data_file=data, source_pkgs=source, config_file=False)
        cov.start()
code = 1
try:
    import pytest
    sys.argv[0] = "pytest"
    code = pytest.console_main()
finally:
    if cov is not None:
        cov.stop()
        cov.save()
sys.exit(code)
'''


def write_launcher(directory):
    """A `pytest` script like the one pip writes, in a directory of its own: run as a script, its
    directory (not the project's) is sys.path[0], as for `pytest` on PATH. Starts coverage when asked."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "pytest")
    with open(path, "w") as f:
        f.write(LAUNCHER)
    return path


PYTEST_OPTS = ["-p", "pyti_outcomes", "-p", "no:cacheprovider", "-q", "-rfE", "--tb=long"]


def pytest_env(venv, outcomes, coverage_data=None, coverage_source=None):
    env = dict(os.environ)
    for k in ("PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH"):
        env.pop(k, None)
    env.update(PATH=os.path.join(venv, "bin") + ":" + env.get("PATH", "/usr/bin:/bin"), VIRTUAL_ENV=venv,
               PYTHONPATH=PLUGIN_DIR, PYTI_OUTCOMES=outcomes)
    if coverage_data:
        env["PYTI_COVERAGE_DATA"] = coverage_data
        env["PYTI_COVERAGE_SOURCE"] = ",".join(coverage_source or [])
    return env


def read_outcomes(path):
    """(header, records, summary) of a test-outcomes.jsonl file (missing parts: None/[])."""
    header, records, summary = None, [], None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(obj, dict):
                    continue
                if "pyti" in obj:
                    header = obj
                elif "summary" in obj:
                    summary = obj
                elif isinstance(obj.get("nodeid"), str):
                    records.append(obj)
    except OSError:
        pass
    return header, records, summary
