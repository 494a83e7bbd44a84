"""Task `build`: build the sdist into a wheel, under strace.

Usage: build_wheel.py DIST SOURCE_DIR META_DIR WHEEL_DIR RAW_DIR SCRATCH WHEELHOUSE
Build backends come from the wheelhouse when it holds every build requirement (an isolated build
with `python -m build`), else from the image, without isolation, by pep517_inprocess.py. A wheel input is passed through unchanged.
When the isolated build's environment cannot be made (a build requirement's own dependency is not in
the wheelhouse), it builds again without isolation (build.json says `isolated_build_unmet`; the first
attempt's trace is kept as build-isolated.strace).
Writes RAW_DIR/build.json and RAW_DIR/build.strace. Exit 3: build requirements missing.
"""
import importlib.metadata
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyti_common import STRACE, capture, normalize, read_json, write_json  # noqa: E402


def wheelhouse_names(wheelhouse):
    names = set()
    for f in os.listdir(wheelhouse) if os.path.isdir(wheelhouse) else []:
        if f.endswith(".whl"):
            names.add(normalize(f.split("-")[0]))
        elif f.endswith((".tar.gz", ".zip")):
            names.add(normalize(f.rsplit("-", 1)[0]))
    return names


def installed(name):
    """Whether the image has a distribution of that (normalized) name."""
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def main():
    dist, source, meta_dir, out, raw, scratch, wheelhouse = sys.argv[1:8]
    report = {"input": os.path.basename(dist)}
    if dist.endswith(".whl"):
        shutil.copy(dist, out)
        report.update(mode="prebuilt", wheel=os.path.basename(dist))
        write_json(os.path.join(raw, "build.json"), report)
        print("build: the input is a wheel; nothing to build")
        return 0
    meta = read_json(os.path.join(meta_dir, "inspect.json"), {}) or {}
    requires = meta.get("build_requires") or ["setuptools>=40.8.0", "wheel"]
    have = wheelhouse_names(wheelhouse)
    req_names = [normalize(re.split(r"[\s<>=!~;\[(]", r, 1)[0]) for r in requires]
    isolated = bool(req_names) and all(n in have for n in req_names)
    tree = os.path.join(scratch, "src")
    shutil.copytree(source, tree, symlinks=True)
    trace = STRACE + ["-o", os.path.join(raw, "build.strace")]
    if isolated:  # `build` makes a venv and installs the build requirements from the wheelhouse
        cmd = trace + [sys.executable, "-m", "build", "--wheel", "--outdir", out, tree]
    else:  # the image's backend, its hooks called in one process (see pep517_inprocess.py)
        here = os.path.dirname(os.path.abspath(__file__))
        cmd = trace + [sys.executable, os.path.join(here, "pep517_inprocess.py"), tree, out]
    report.update(mode="isolated" if isolated else "no-isolation", build_requires=requires)
    if not isolated:  # built with the image's packages: name the requirements neither it nor the wheelhouse has
        absent = [r for r, n in zip(requires, req_names) if n not in have and not installed(n)]
        if absent:
            report["missing_build_requirements"] = absent
    print("build: %s build (backend %s)" % (report["mode"], meta.get("build_backend")))
    code, output = capture(cmd, cwd=tree)
    unmet = re.findall(r"No matching distribution found for (\S+)", output)
    if isolated and code != 0 and unmet and not os.listdir(out):
        # The wheelhouse had the build requirements but not all of theirs, so the isolated build env
        # could not be made and setup.py never ran: build once more with the image's backend (the
        # same fallback as for a requirement missing outright), so the package's own code runs traced.
        report["isolated_build_unmet"] = unmet[:20]
        os.replace(os.path.join(raw, "build.strace"), os.path.join(raw, "build-isolated.strace"))
        tree = os.path.join(scratch, "src-no-isolation")
        shutil.copytree(source, tree, symlinks=True)
        here = os.path.dirname(os.path.abspath(__file__))
        cmd = trace + [sys.executable, os.path.join(here, "pep517_inprocess.py"), tree, out]
        report["mode"] = "no-isolation"
        print("build: the isolated build env lacks %s; building again without isolation" % ", ".join(unmet[:5]))
        code, output = capture(cmd, cwd=tree)
    wheels = [f for f in os.listdir(out) if f.endswith(".whl")]
    report.update(exit_code=code, wheel=wheels[0] if wheels else None)
    missing = re.findall(r"Missing dependencies:[ \t]*\n((?:[ \t]+\S.*\n?)+)", output)
    if missing:  # also when the build, tried all the same, passed: the report says it was built without them
        named = [m.strip() for m in "".join(missing).splitlines() if m.strip()]
        report["missing_build_requirements"] = sorted(set(report.get("missing_build_requirements", []) + named))
    if code != 0 and (missing or "No matching distribution found" in output):
        report["missing_build_requirements"] = report.get("missing_build_requirements") or requires
        code = 3
    write_json(os.path.join(raw, "build.json"), report)
    return code


if __name__ == "__main__":
    sys.exit(main())
