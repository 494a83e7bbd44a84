"""The isolated build environment of an sdist, made from the host's plan: no pip, no resolver in the guest.

`python -m build` makes a venv, lets pip resolve and install the build requirements into it from the
wheelhouse, then runs the backend's hooks (get_requires_for_build_wheel, then build_wheel) with the
venv's python, installing what the first hook adds. Under emulation pip is most of that time. Here the
host resolved the build requirements already (the install plan's `build` part, see pyti_install_plan.py
and slave/src/prefetch/install-plan.ts) and the environment is made the same way without pip:

1. `plan_environment` (in build_wheel.py, before the trace starts): the planned build wheels are checked
   against the wheelhouse (sha256) and the closure of the build requirements over them is computed (one
   wheel per project: no choice, no resolver). A requirement the plan cannot meet: None and the reason
   (build_wheel.py then runs `python -m build` as before and says so in build.json).
2. `make_environment` (build_wheel.py, before the trace starts: it runs no wheel's code): a venv without
   pip and without the image's site packages (tempfile's `build-env-*`, as build names its own, so the
   trace classifier counts it as tooling), the planned wheels installed with PyPA's `installer` (no
   bytecode compiled: the hooks compile the few modules they import). Then this script's `main`
   (`--venv VENV`), run by the image's python3 under strace into build.strace, as `python -m build`
   was, runs pep517_inprocess.py with the venv's python (the package's build code, traced as before). When the
   backend's get_requires_for_build_wheel asks for what is not installed, it is installed from the planned
   wheels when they meet it (the host plans `wheel` for setuptools backends ahead), else by the image's
   pip from the wheelhouse (`resolver_fallback`), and the hooks run again. Nothing is dropped: a
   requirement neither can install makes pip fail as `python -m build` did ("No matching distribution
   found", which build_wheel.py answers with its no-isolation fallback).

Usage: python3 pyti_build_env.py [--venv VENV] SPEC OUTCOME SOURCE_TREE OUTDIR
SPEC: the JSON plan_environment made; OUTCOME: where this writes what it did (read_outcome checks it).
Exit: the hook runner's (0 built; 1, 3 failed), or pip's when its fallback failed, or 2 when the
environment could not be made.
"""
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyti_install_plan as ip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_OUTCOME_BYTES = 64 * 1024
HOOK_ROUNDS = 2


def plan_environment(plan_path, wheelhouse, requires):
    """(spec, None) for an environment the plan can make: {install: [wheel paths, dependencies first],
    candidates: [the other planned wheels' paths], installed: [{name, version}]}; else (None, why)."""
    try:
        plan = ip.read_plan(plan_path)
    except ip.PlanError as e:
        return None, "the install plan is unusable: %s" % e
    if plan is None:
        return None, "no install plan from the host"
    if plan.get("build") is None:
        return None, "the host did not plan the build environment"
    try:
        planned = ip.planned_dists(wheelhouse, plan["build"]["wheels"])
    except ip.PlanError as e:
        return None, "the build plan is unusable: %s" % e
    order, missing, problems = ip.closure(list(requires), planned)
    if missing:
        return None, "the host's build plan does not meet %s" % ", ".join(missing[:20])
    if problems:
        return None, "; ".join(problems)[:1000]
    chosen = {d.key for d in order}
    return {
        "install": [d.path for d in order],
        "candidates": [d.path for d in planned.values() if d.key not in chosen],
        "installed": [d.as_json() for d in order],
    }, None


def read_outcome(path):
    """What main wrote to OUTCOME, shape-checked (the build's own code ran beside it): a dict, or None."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_OUTCOME_BYTES + 1)
        doc = json.loads(data.decode("utf-8")) if len(data) <= MAX_OUTCOME_BYTES else None
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    strs = lambda v, n=100: [x[:300] for x in v if isinstance(x, str)][:n] if isinstance(v, list) else []  # noqa: E731
    dists = lambda v: [{"name": d["name"][:200], "version": d["version"][:100]} for d in v  # noqa: E731
                       if isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("version"), str)][:200] \
        if isinstance(v, list) else []
    out = {"source": "plan", "installer": "installer", "installed": dists(doc.get("installed"))}
    if doc.get("hook_requires"):
        out["hook_requires"] = strs(doc.get("hook_requires"))
    if doc.get("hook_installed"):
        out["hook_installed"] = dists(doc.get("hook_installed"))
    fb = doc.get("resolver_fallback")
    if isinstance(fb, dict) and isinstance(fb.get("reason"), str):
        out["resolver_fallback"] = {"reason": fb["reason"][:1000], "requirements": strs(fb.get("requirements"))}
    if isinstance(doc.get("error"), str):
        out["error"] = doc["error"][:1000]
    return out


def site_packages(scheme):
    return scheme["purelib"]


def unmet(requirements, site):
    """The requirements (strings) that what is installed in `site` does not meet, markers evaluated."""
    from packaging.requirements import InvalidRequirement, Requirement
    have = ip.installed_dists(site)
    out = []
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            out.append(text)
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        d = have.get(ip.normalize(req.name))
        if d is None or not req.specifier.contains(d.version, prereleases=True):
            out.append(text)
    return out


def make_environment(spec):
    """The build venv of `spec` (plan_environment's) with its planned wheels installed: (venv, None), or
    (None, why not). A venv as `python -m venv --without-pip` makes it (no system site packages), in this
    process; PyPA's `installer` unpacks the wheels and runs none of their code, so build_wheel.py makes
    it before the trace starts (under emulation the traced install of setuptools cost 2.7 s)."""
    venv = tempfile.mkdtemp(prefix="build-env-")
    import venv as venv_module
    try:
        venv_module.EnvBuilder(symlinks=True, with_pip=False, system_site_packages=False).create(venv)
    except OSError as e:
        return None, "the build venv could not be made: %s" % e
    import pyti_wheel_install  # PyPA installer (the image's)
    names = ", ".join("%s %s" % (d["name"], d["version"]) for d in spec["installed"])
    print("build: isolated build environment from the host's plan: %s (installer, no pip)" % names)
    sys.stdout.flush()
    failed = pyti_wheel_install.install_wheels(spec["install"], environment_scheme(venv), os.path.join(venv, "bin", "python"),
                                               compile_levels=(), log=lambda _m: None)
    return (None, failed) if failed else (venv, None)


def environment_scheme(venv):
    return sysconfig.get_paths("venv", vars={"base": venv, "platbase": venv})


def main(argv):
    venv = None
    if argv[:1] == ["--venv"]:  # made already (build_wheel.py, before the trace)
        venv, argv = argv[1], argv[2:]
    spec_path, outcome_path, tree, outdir = argv[:4]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    outcome = {"installed": spec["installed"]}

    def done(code):
        with open(outcome_path, "w", encoding="utf-8") as f:
            json.dump(outcome, f)
        return code

    if venv is None:
        venv, failed = make_environment(spec)
        if failed:
            outcome["error"] = failed
            print("build: " + failed, file=sys.stderr)
            return done(2)
    python = os.path.join(venv, "bin", "python")
    scheme = environment_scheme(venv)
    import pyti_wheel_install  # PyPA installer (the image's)

    hook = [python, os.path.join(HERE, "pep517_inprocess.py")]

    def run_hooks():
        """The hook runner, stopping after get_requires_for_build_wheel when it asks for more: (exit code, what it asked for)."""
        r, w = os.pipe()
        sys.stdout.flush()
        p = subprocess.Popen(hook + ["--requires-fd", str(w), tree, outdir], cwd=tree, pass_fds=(w,))
        os.close(w)
        chunks = []

        def drain():  # to EOF: the runner never blocks on a full pipe
            with os.fdopen(r, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 16), b""):
                    if sum(map(len, chunks)) <= MAX_OUTCOME_BYTES:
                        chunks.append(chunk)
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        code = p.wait()
        reader.join(5)  # a process the build left behind may hold the pipe open: not waited for
        data = b"".join(chunks)
        try:
            asked = json.loads(data.decode("utf-8")) if len(data) <= MAX_OUTCOME_BYTES else []
        except ValueError:
            asked = []
        return code, [x for x in asked if isinstance(x, str)][:200] if isinstance(asked, list) else []

    for _ in range(HOOK_ROUNDS):
        code, asked = run_hooks()
        if code != 5:
            return done(code)
        lacking = unmet(asked, site_packages(scheme))
        outcome.setdefault("hook_requires", [])
        outcome["hook_requires"] += [r for r in lacking if r not in outcome["hook_requires"]]
        if not lacking:
            break
        try:
            candidates = {d.key: d for d in (ip.wheel_dist(p) for p in spec["candidates"])}
        except ip.PlanError as e:  # checked before the trace started; unreadable now: pip's fallback below
            print("build: the planned wheels are unreadable: %s" % e)
            candidates = {}
        candidates.update(ip.installed_dists(site_packages(scheme)))  # installed ones are kept, not reinstalled
        order, missing, problems = ip.closure(lacking, candidates)
        if not missing and not problems:
            new = [d for d in order if d.path]
            print("build: the backend asks for %s: installing %s from the host's plan"
                  % (", ".join(lacking), ", ".join("%s %s" % (d.name, d.version) for d in new)))
            failed = pyti_wheel_install.install_wheels([d.path for d in new], scheme, python, compile_levels=(), log=lambda _m: None)
            if failed:
                outcome["error"] = failed
                print("build: " + failed, file=sys.stderr)
                return done(2)
            outcome.setdefault("hook_installed", []).extend(d.as_json() for d in new)
            continue
        why = ("the backend's get_requires_for_build_wheel asks for what the host did not plan: %s"
               % ", ".join(missing or lacking))
        if problems:
            why += " (%s)" % "; ".join(problems)
        print("build: %s; pip installs it from the wheelhouse" % why)
        outcome["resolver_fallback"] = {"reason": why[:1000], "requirements": lacking[:100]}
        sys.stdout.flush()
        code = subprocess.call([sys.executable, "-m", "pip", "--python", python, "install", "--no-warn-script-location"]
                               + lacking)
        if code != 0:
            return done(code)
    # Asked again after installing, or still unmet: the hooks run without stopping (pep517_inprocess names
    # what is missing and builds all the same, as a build without isolation does).
    sys.stdout.flush()
    return done(subprocess.call(hook + [tree, outdir], cwd=tree))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
