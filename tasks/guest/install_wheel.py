"""Task `install`: a fresh venv (without the image's site packages), then the package's wheel and exactly
the dependencies the host resolved (PLAN, see pyti_install_plan.py) are installed into it, offline, with
PyPA's installer, under strace. No resolver runs in the guest.

Usage: install_wheel.py WHEEL_DIR VENV RAW_DIR WHEELHOUSE [PLAN]
Before installing, the built wheel's own Requires-Dist (an sdist's dynamic dependencies included) are
checked against the planned wheels, followed through their requirements:
- all met: the needed wheels, dependencies first and the package's wheel last, are installed by one
  traced interpreter (pyti_wheel_install.py), bytecode compiled;
- some unmet, and the wheelhouse has none of those projects: exit 3, install.json names them
  (`missing_dependencies`), as when pip could not find them;
- some unmet that the wheelhouse has (dependencies the host's static metadata did not show): the
  image's pip resolves and installs from the wheelhouse as before, and install.json says so
  (`resolver_fallback`, shown in the report).
A planned wheel that is not in the wheelhouse with the host's sha256, or a malformed plan: exit 2
(install.json `error`). No PLAN file at all: pip as before.
Writes RAW_DIR/install.json (wheel, exit_code, installer, installed [{name, version}], ...),
RAW_DIR/install.strace (and RAW_DIR/pip-report.json when pip ran).
Exit 3: a dependency cannot be satisfied from the wheelhouse.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyti_common import STRACE, capture, traced_capture, write_json  # noqa: E402
import pyti_install_plan as ip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEP_PATTERNS = [
    r"No matching distribution found for (\S+)",
    r"Could not find a version that satisfies the requirement (\S+)",
]


def pip_install(wheel_dir, wheel, venv, raw, wheelhouse, report):
    """The image's pip resolves and installs from the wheelhouse, traced (the way before install plans)."""
    cmd = STRACE + ["-o", os.path.join(raw, "install.strace"),
                    sys.executable, "-m", "pip", "--python", os.path.join(venv, "bin", "python"),
                    "install", "--no-index", "--find-links", wheelhouse, "--find-links", wheel_dir,
                    "--report", os.path.join(raw, "pip-report.json"), os.path.join(wheel_dir, wheel)]
    code, output = capture(cmd)
    report["installer"] = "pip"
    missing = sorted({m for p in DEP_PATTERNS for m in re.findall(p, output)})
    if code != 0 and missing:
        report["missing_dependencies"] = missing
        code = 3
    if code == 0:
        sp = site_packages(venv)
        report["installed"] = [d.as_json() for d in ip.installed_dists(sp).values()] if sp else []
    return code


def site_packages(venv):
    lib = os.path.join(venv, "lib")
    for n in sorted(os.listdir(lib)) if os.path.isdir(lib) else []:
        p = os.path.join(lib, n, "site-packages")
        if n.startswith("python") and os.path.isdir(p):
            return p
    return None


def wheel_tags_ok(filename):
    """Whether this interpreter can install a wheel of that name (pip's "not a supported wheel")."""
    from packaging.tags import sys_tags
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return False
    return not tags.isdisjoint(set(sys_tags()))


def main():
    wheel_dir, venv, raw, wheelhouse = sys.argv[1:5]
    plan_path = sys.argv[5] if len(sys.argv) > 5 else None
    wheels = sorted(f for f in os.listdir(wheel_dir) if f.endswith(".whl"))
    if not wheels:
        print("install: no wheel to install", file=sys.stderr)
        return 2
    report = {"wheel": wheels[0], "exit_code": 1}

    def done(code):
        report["exit_code"] = code
        write_json(os.path.join(raw, "install.json"), report)
        return code

    # The venv is the package's own: no system site packages, so a release whose name and version the
    # image also has (six 1.16.0, attrs 22.2.0, ...) is installed and traced, not "already satisfied".
    # The image's tools stay in /usr/lib/python3/dist-packages.
    # Made in this process (as `python -m venv --without-pip` does): one interpreter start less under emulation.
    try:
        import venv as venv_module
        venv_module.EnvBuilder(symlinks=True, with_pip=False).create(venv)
    except OSError as e:
        print("install: the venv could not be made: %s" % e, file=sys.stderr)
        report["error"] = "the venv could not be made: %s" % e
        return done(1)
    try:
        plan = ip.read_plan(plan_path)
    except ip.PlanError as e:
        print("install: %s" % e, file=sys.stderr)
        report["error"] = str(e)[:1000]
        return done(2)
    if plan is None:
        print("install: no install plan from the host: pip resolves from the wheelhouse")
        return done(pip_install(wheel_dir, wheels[0], venv, raw, wheelhouse, report))

    own_path = os.path.join(wheel_dir, wheels[0])
    try:
        own = ip.wheel_dist(own_path)
        planned = ip.planned_dists(wheelhouse, plan["runtime"])
    except ip.PlanError as e:
        print("install: %s" % e, file=sys.stderr)
        report["error"] = str(e)[:1000]
        return done(2)
    if not wheel_tags_ok(wheels[0]):
        report["error"] = "%s is not a supported wheel on this platform" % wheels[0]
        print("install: ERROR: " + report["error"], file=sys.stderr)
        return done(1)
    candidates = dict(planned)
    candidates[own.key] = own
    order, missing, problems = ip.closure([own], candidates)
    report["plan"] = {"source": plan["source"], "planned": len(plan["runtime"]),
                      "unused": sorted(d.filename for d in planned.values() if d not in order)}
    if missing:
        have = ip.wheelhouse_projects(wheelhouse)
        in_wheelhouse = [m for m in missing if ip.normalize(re.split(r"[\[<>=!~ ]", m)[0]) in have]
        if not in_wheelhouse:
            print("install: ERROR: dependencies that are not in the wheelhouse: " + ", ".join(missing), file=sys.stderr)
            report["installer"] = "installer"
            report["missing_dependencies"] = missing
            return done(3)
        why = ("the built wheel requires what the host did not resolve (dynamic dependencies?) and the wheelhouse has: "
               + ", ".join(in_wheelhouse))
        print("install: " + why + "; pip resolves from the wheelhouse")
        report["resolver_fallback"] = {"reason": why[:1000], "requirements": missing[:100]}
        return done(pip_install(wheel_dir, wheels[0], venv, raw, wheelhouse, report))
    if problems:
        report["error"] = "; ".join(problems)[:1000]
        print("install: ERROR: " + report["error"], file=sys.stderr)
        return done(1)

    # One traced interpreter installs them all, dependencies first, the package's own wheel last.
    # The image's python installs into the venv (--venv): forked from the guest's warm Python when it is there.
    report["installer"] = "installer"
    code, _, report["warm"] = traced_capture(sys.executable, [os.path.join(HERE, "pyti_wheel_install.py"), "--venv", venv,
                                                              "--requested", own_path] + [d.path for d in order],
                                             os.path.join(raw, "install.strace"))
    if code == 0:
        report["installed"] = [d.as_json() for d in order]
        sp = site_packages(venv)
        present = ip.installed_dists(sp) if sp else {}
        absent = [d.name for d in order if d.key not in present]
        if absent:
            report["error"] = "not installed after all: " + ", ".join(absent)
            code = 1
    return done(code)


if __name__ == "__main__":
    sys.exit(main())
