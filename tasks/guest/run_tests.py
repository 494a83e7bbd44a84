"""Task `test`: the distribution's own test suite with pytest, as its maintainers run it, under coverage.

Usage: python3 run_tests.py SOURCE_DIR META_DIR COVERAGE_DIR RAW_DIR SCRATCH VENV WHEELHOUSE TEST_REQS RUN_DIR [PLAN]
Run by the image's python3. Steps:
- TEST_REQS ({input}/pyti-test-requirements.json, may be absent): `unresolved` non-empty -> the tests
  are not run (exit 3, pytest.json names them);
- RUN_DIR/venv: a copy of the install task's venv, where pytest, coverage and the test requirements are
  installed offline: the test wheels of the host's install plan (PLAN, {input}/pyti-install-plan.json)
  with PyPA's installer, no resolver (a requirement they cannot meet and the wheelhouse lacks -> exit 3);
  without planned test wheels, or for what they cannot meet but the wheelhouse has, the image's pip
  resolves from WHEELHOUSE as before (a pinned requirement the wheelhouse has only at another version is
  relaxed to its bare name, as the host's prefetch does, and reported; pip naming a missing distribution
  -> exit 3); what the wheelhouse lacks of pytest/coverage is taken from the image, at the END of sys.path;
- RUN_DIR/tree: the whole unpacked sdist; pytest runs from its root (its own config decides: testpaths,
  python_files, addopts...), as `pytest` does (no cwd on sys.path), against the installed package
  (flat layouts get the installed compiled extensions copied in, as an in-place build);
- each failed test (at most 30, within a time budget) is run again alone: passing then, it is flaky.
Writes RAW_DIR/pytest.json, RAW_DIR/test-outcomes.jsonl (pyti_outcomes plugin), RAW_DIR/junit.xml,
COVERAGE_DIR/.coverage. Exit 0 when the suite ran (failed tests are data) or there are no tests; 3 for
missing test requirements; 75 when the sandbox failed the run (killed from outside, out of disk, a
missing device: an infrastructure error the host retries); else pytest's exit code.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyti_testenv as te  # noqa: E402
from pyti_common import capture, read_json, write_json  # noqa: E402

EXIT_DEPS = 3
EXIT_PYTEST = 2
EXIT_INFRA = 75
MAX_RERUNS = 30
MAX_JUNIT = 32 * 1024 * 1024
INFRA_MARKERS = [
    (re.compile(r"No space left on device|\[Errno 28\]"), "the sandbox ran out of disk space (ENOSPC)"),
    (re.compile(r"No such file or directory: '/dev/(null|zero|u?random|shm|tty|ptmx|full)'|\[Errno 19\] No such device"),
     "a device is missing in the sandbox"),
]
# Options of pytest plugins that a project's addopts may use: pytest's "unrecognized arguments" names the plugin missing.
OPTION_PLUGINS = {"--cov": "pytest-cov", "-n": "pytest-xdist", "--numprocesses": "pytest-xdist", "--dist": "pytest-xdist",
                  "--timeout": "pytest-timeout", "--benchmark": "pytest-benchmark", "--reruns": "pytest-rerunfailures",
                  "--mypy": "pytest-mypy", "--flake8": "pytest-flake8", "--randomly": "pytest-randomly",
                  "--doctest-rst": "pytest-doctestplus", "--doctest-plus": "pytest-doctestplus", "--mpl": "pytest-mpl",
                  "--asyncio-mode": "pytest-asyncio", "--env": "pytest-env", "--hypothesis": "hypothesis"}


# Markers that plugins register: "Unknown pytest.mark.X" names the plugin missing.
MARK_PLUGINS = {"no_cover": "pytest-cov", "timeout": "pytest-timeout", "asyncio": "pytest-asyncio", "benchmark": "pytest-benchmark",
                "django_db": "pytest-django", "mpl_image_compare": "pytest-mpl", "flaky": "flaky", "xdist_group": "pytest-xdist",
                "order": "pytest-order", "vcr": "pytest-recording", "trio": "pytest-trio", "httpx_mock": "pytest-httpx",
                "freeze_time": "pytest-freezer", "forked": "pytest-forked", "randomize": "pytest-randomly"}


def stream(cmd, cwd, env, timeout=None):
    """Runs cmd with its output passed through; returns (returncode, infra reason or None, tail)."""
    sys.stdout.flush()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    infra, tail, t0 = None, [], time.monotonic()
    for line in iter(p.stdout.readline, b""):
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
        text = line.decode("utf-8", "replace")
        tail = (tail + [text])[-40:]
        if infra is None:
            for rx, why in INFRA_MARKERS:
                if rx.search(text):
                    infra = why
        if timeout is not None and time.monotonic() - t0 > timeout:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return None, infra, "".join(tail)
    p.wait()
    return p.returncode, infra, "".join(tail)


def pytest_cmd(launcher, venv, raw_junit=None):
    cmd = [os.path.join(venv, "bin", "python"), launcher] + te.PYTEST_OPTS
    if raw_junit:
        cmd += ["-o", "junit_family=xunit2", "--junitxml=" + raw_junit]
    return cmd


def junit_has_cases(path):
    try:
        with open(path, "rb") as f:
            return b"<testcase" in f.read(1 << 20)
    except OSError:
        return False


MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([A-Za-z0-9_.]+)'")


def missing_modules(records, venv, tree):
    """Top-level modules the test modules could not import, when every collection error is one (a
    test library the project did not declare: pytest stops at collection errors, so nothing ran)."""
    errors = [r for r in records if r.get("when") == "collect" and r.get("outcome") == "error"]
    if len(errors) != len(records):  # tests ran: their outcomes are the data
        return []
    found = []
    for r in errors:
        m = MISSING_MODULE.search((r.get("message") or "") + "\n" + (r.get("longrepr") or ""))
        if not m:
            return []
        top = m.group(1).split(".")[0]
        if top not in found:
            found.append(top)
    absent = [t for t in found if not te.venv_has(venv, t) and not in_tree(tree, t)]
    return absent if found and len(absent) == len(found) else []


def in_tree(tree, top):
    """A module of the project's own tree (a layout problem, not a missing requirement)."""
    for base, dirs, files in os.walk(tree):
        dirs[:] = [d for d in dirs if d not in te.SKIP_DIRS and not d.startswith(".")]
        if top + ".py" in files or (top in dirs and os.path.isfile(os.path.join(base, top, "__init__.py"))):
            return True
    return False


def missing_plugins(tail):
    """Plugins a usage error points at: unrecognized options and `required_plugins`."""
    found = []
    m = re.search(r"unrecognized arguments: (.*)", tail)
    if m:
        for arg in m.group(1).split():
            plugin = OPTION_PLUGINS.get(arg.split("=")[0]) or next(
                (p for o, p in OPTION_PLUGINS.items() if o.startswith("--") and arg.startswith(o)), None)
            if plugin and plugin not in found:
                found.append(plugin)
    for mark in re.findall(r"Unknown pytest\.mark\.(\w+)", tail):  # a marker a plugin registers (filterwarnings = error)
        plugin = MARK_PLUGINS.get(mark)
        if plugin and plugin not in found:
            found.append(plugin)
    m = re.search(r"Missing required plugins: (.*)", tail)
    if m:
        found += [p.strip() for p in m.group(1).split(",") if p.strip() and p.strip() not in found]
    return found


def rerun_failures(records, header, launcher, venv, tree, scratch, budget):
    """Each failed test again, alone, without coverage. Returns (flaky ids, rerun list)."""
    failed = [r["nodeid"] for r in records if r.get("outcome") in ("failed", "error") and r.get("when") != "collect"]
    rootdir = (header or {}).get("rootdir") or tree
    flaky, reruns, t0 = [], [], time.monotonic()
    for i, nodeid in enumerate(failed[:MAX_RERUNS]):
        left = budget - (time.monotonic() - t0)
        if left <= 5:
            reruns.append({"nodeid": nodeid, "outcome": "not rerun (time budget spent)"})
            continue
        out = os.path.join(scratch, "rerun-%d.jsonl" % i)
        print("\n=== PyTI: running %s again, alone ===" % nodeid)
        code, _, _ = stream(pytest_cmd(launcher, venv) + ["--rootdir=" + rootdir, os.path.join(rootdir, nodeid)],
                            tree, te.pytest_env(venv, out), timeout=left)
        _, again, _ = te.read_outcomes(out)
        outcome = next((r["outcome"] for r in again if r.get("nodeid") == nodeid), None)
        if code is None:
            outcome = "timeout"
        reruns.append({"nodeid": nodeid, "outcome": outcome or "not found (exit %s)" % code})
        if outcome in ("passed", "xfailed"):
            flaky.append(nodeid)
    return flaky, reruns


def main():
    source, meta_dir, cov_dir, raw, scratch, venv0, wheelhouse, reqs_file, run_dir = sys.argv[1:10]
    plan_path = sys.argv[10] if len(sys.argv) > 10 else None
    t_start = time.monotonic()
    meta = read_json(os.path.join(meta_dir, "inspect.json"), {}) or {}
    result = {"status": "error"}
    pj = os.path.join(raw, "pytest.json")

    def done(code, **kw):
        result.update(kw)
        write_json(pj, result)
        return code

    # No tests: nothing to run, whatever the test requirements (sortedcontainers' sdist ships no tests
    # but declares tox): `no tests`, not test-fail:deps.
    tree = os.path.join(run_dir, "tree")
    shutil.copytree(source, tree, symlinks=False)
    config, opts = te.pytest_config(tree)
    args, how = te.discover(tree, opts)
    result.update(config=config, discovery=how, args=args)
    if how == "none":
        print("test: the distribution has no tests (no test files, no pytest configuration naming any)")
        return done(0, status="no tests", reason="no test files found")

    declared = te.read_requirements(reqs_file)
    reqs, host_relaxed = [], []
    if declared is not None:
        reqs, unresolved, sources, host_relaxed = declared
        result.update(declared_requirements=reqs, sources=sources)
        if unresolved:
            names = [u["requirement"] for u in unresolved]
            print("test: not run: test requirements that could not be resolved: " + ", ".join(names))
            return done(EXIT_DEPS, status="deps", missing=names, unresolved=unresolved,
                        reason="test requirements could not be resolved: " + ", ".join(names))

    venv = te.copy_venv(venv0, os.path.join(run_dir, "venv"))
    info = te.prepare_requirements(venv, wheelhouse, reqs, capture, plan_path)
    result.update(image_tools=info.get("image_tools"), installed=info.get("installed", []))
    for k in ("installer", "resolver_fallback"):
        if info.get(k):
            result[k] = info[k]
    relaxed = host_relaxed + info.get("relaxed", [])
    if relaxed:
        versions = te.installed_versions(venv)
        for x in relaxed:
            x["installed"] = versions.get(te.req_name(x["relaxed_to"]))
        print("test: test requirements relaxed (no matching version to install): " + ", ".join(
            "%s -> %s" % (x["requirement"], x["installed"] or x["relaxed_to"]) for x in relaxed))
        result["relaxed"] = relaxed
    if "error" in info:
        names = info.get("missing") or []
        why = ("not in the wheelhouse: " + ", ".join(names)) if names else info["error"]
        print("test: not run: the test requirements could not be installed: " + why)
        return done(EXIT_DEPS, status="deps", missing=names or reqs, reason="test requirements could not be installed: " + why,
                    pip_error=info["error"])
    if not te.venv_has(venv, "pytest"):
        print("test: pytest is neither in the wheelhouse nor in the image", file=sys.stderr)
        return done(EXIT_DEPS, status="deps", missing=["pytest"], reason="pytest is neither in the wheelhouse nor in the image")

    result["inplace_extensions"] = te.inplace_extensions(tree, venv)

    launcher = te.write_launcher(os.path.join(scratch, "bin"))
    modules = [os.path.basename(m)[:-3] if m.endswith(".py") else os.path.basename(m) for m in meta.get("modules", [])]
    outcomes = os.path.join(raw, "test-outcomes.jsonl")
    env = te.pytest_env(venv, outcomes, os.path.join(cov_dir, ".coverage"), modules)
    cmd = pytest_cmd(launcher, venv, os.path.join(raw, "junit.xml")) + (args or [])
    print("test: pytest %s (config: %s, %s)" % (" ".join(args or []) or "(no paths)", config or "none", how))
    t0 = time.monotonic()
    code, infra, tail = stream(cmd, tree, env)
    run_seconds = time.monotonic() - t0
    result.update(exit_code=code, duration_seconds=round(run_seconds, 3))
    header, records, _ = te.read_outcomes(outcomes)
    junit = os.path.join(raw, "junit.xml")
    if os.path.exists(junit) and os.path.getsize(junit) > MAX_JUNIT:  # the outcomes file has it all
        os.remove(junit)
        result["junit_omitted"] = "junit.xml was larger than %d bytes" % MAX_JUNIT
    if os.path.exists(outcomes):  # for the perf task
        shutil.copy(outcomes, os.path.join(run_dir, "test-outcomes.jsonl"))

    if code == -signal.SIGKILL:
        return done(EXIT_INFRA, status="infra", infra="pytest was killed (SIGKILL) from outside its limits")
    if infra and code != 0:
        return done(EXIT_INFRA, status="infra", infra=infra)
    if code is not None and code < 0:
        return done(1, status="crashed", reason="pytest died of signal %s" % signal.Signals(-code).name)
    if code == 0 and not records and junit_has_cases(os.path.join(raw, "junit.xml")):
        result["note"] = "the outcomes plugin recorded nothing: per-test results from junit.xml"
        return done(0, status="ran")
    if code == 5 or (code == 0 and not records):
        print("test: pytest collected no tests")
        return done(0, status="no tests", reason="pytest collected no tests")
    missing = missing_modules(records, venv, tree)
    if missing:
        missing += [p for p in (missing_plugins(tail) if code not in (0, 1, 2) else []) if p not in missing]
        names = ", ".join(missing)
        print("test: the tests import modules that are not installed: " + names)
        return done(EXIT_DEPS, status="deps", missing=missing,
                    reason="the tests need what is not installed (undeclared test requirements?): " + names)

    if code not in (0, 1, 2) or not records:
        plugins = missing_plugins(tail)
        m = MISSING_MODULE.search(tail)  # a conftest.py importing what is not installed
        if not plugins and m and not te.venv_has(venv, m.group(1).split(".")[0]) and not in_tree(tree, m.group(1).split(".")[0]):
            top = m.group(1).split(".")[0]
            return done(EXIT_DEPS, status="deps", missing=[top],
                        reason="the project's conftest.py imports a module that is not installed: " + top)
        if plugins:
            return done(EXIT_DEPS, status="deps", missing=plugins,
                        reason="the project's pytest configuration needs plugins that are not installed: " + ", ".join(plugins))
        last = tail.strip().splitlines()[-1][:300] if tail.strip() else ""
        what = "pytest usage error" if code == 4 else "pytest stopped (exit %d)" % code
        # Exit 2 whatever pytest's code (its 3, internal error, must not read as EXIT_DEPS).
        return done(EXIT_PYTEST, status="error", pytest_exit=code, reason=what + (": " + last if last else ""))

    # Reruns get the run's own length (60..600 s), and never the last minute of the task's wall limit.
    budget = min(600.0, max(60.0, run_seconds))
    wall = float(os.environ.get("PYTI_WALL_SECONDS") or 0)
    if wall:
        budget = min(budget, wall - (time.monotonic() - t_start) - 60)
    flaky, reruns = rerun_failures(records, header, launcher, venv, tree, scratch, budget)
    result.update(flaky=flaky, reruns=reruns)
    print("test: suite ran in %.1f s; %d flaky of %d re-run" % (run_seconds, len(flaky), len(reruns)))
    result["total_seconds"] = round(time.monotonic() - t_start, 3)
    return done(0, status="ran")


if __name__ == "__main__":
    sys.exit(main())
