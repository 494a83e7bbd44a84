"""Task `build`: build the sdist into a wheel, under strace.

Usage: build_wheel.py DIST SOURCE_DIR META_DIR WHEEL_DIR RAW_DIR SCRATCH WHEELHOUSE [PLAN]
Build backends come from the wheelhouse when it holds every build requirement (an isolated build),
else from the image, without isolation, by pep517_inprocess.py; build
requirements the wheelhouse has but the image lacks (or has at another version) are installed first
into a build venv that also sees the image's packages ("no-isolation" with `overlay`).
A wheel input is passed through unchanged.
The isolated build's environment is the host's plan (PLAN's `build` wheels, installed without pip by
pyti_build_env.py; build.json `build_env`: {source: plan, installer: installer, installed, and what
the backend's get_requires_for_build_wheel added: hook_requires, hook_installed, resolver_fallback});
without a usable plan `python -m build` makes it with pip (`build_env`: {installer: pip, reason}).
When the isolated build's environment cannot be made (a build requirement's own dependency is not in
the wheelhouse), it builds again without isolation (build.json says `isolated_build_unmet`; the first
attempt's trace is kept as build-isolated.strace).
A backend or tool that the image cannot provide (a build-backend module neither the image nor the
wheelhouse has, e.g. maturin or pdm.backend; cargo/rustc; a compiler; a missing C header or library)
is named in build.json's `missing_toolchain` (exit 4). Build requirements that neither the wheelhouse
nor the image has are named in `missing_build_requirements` (exit 3 when the build then fails).
Writes RAW_DIR/build.json and RAW_DIR/build.strace.
"""
import importlib.metadata
import importlib.util
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyti_common import STRACE, capture, normalize, read_json, run, traced_capture, write_json  # noqa: E402
import pyti_build_env  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# Build requirements that need a toolchain the image does not carry, and what they need.
TOOLCHAIN_REQUIREMENTS = {
    "maturin": "maturin (Rust toolchain: cargo, rustc)",
    "setuptools-rust": "cargo (Rust toolchain, for setuptools-rust)",
    "puccinialin": "cargo (Rust toolchain, for puccinialin)",
}

# What a failed build's log says about a missing compiler, tool, header or library: (regex, label).
TOOLCHAIN_PATTERNS = [
    (r"fatal error: ([\w./+-]+\.(?:h|hh|hpp|hxx)): No such file or directory", "header {}"),
    (r"error: command '([^']+)' failed: No such file or directory", "{}"),
    (r"error: command '([^']+)' failed with exit status 127", "{}"),
    (r"\b(cargo|rustc)\b[^\n]{0,40}(?:not found|No such file or directory|is not installed)", "{} (Rust toolchain)"),
    (r"can't find Rust compiler", "cargo (Rust toolchain)"),
    (r"Program '([^']+)' not found or not executable", "{}"),
    (r"Unknown compiler\(s\): \[\['([^']+)'", "{}"),
    (r"No CMAKE_(C|CXX|Fortran)_COMPILER could be found", "a {} compiler (CMake)"),
    (r"/usr/bin/ld: cannot find -l([\w+.-]+)", "library lib{}"),
    (r"Package '?([\w+.-]+)'?,? (?:was not found in the pkg-config search path|not found)", "library {} (pkg-config)"),
    (r"Dependency \"([\w+.-]+)\" not found", "library {} (meson dependency)"),
    (r"Could NOT find ([\w+.-]+)", "library {} (CMake find_package)"),
    (r"(?m)^(?:/bin/)?(?:ba)?sh: (?:\d+: )?(?:line \d+: )?([\w.+-]+): (?:command )?not found", "{} (command not found)"),
]
MAX_NAMED = 20
WEAK = "(command not found)"  # a shell's word for it: also printed by scripts that go on without the tool


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


def satisfied_by_image(requirement):
    """Whether the image's packages satisfy the requirement (name and version; markers applied)."""
    try:
        from packaging.requirements import Requirement
        req = Requirement(requirement)
    except Exception:  # noqa: BLE001 - unparsable or no packaging: by name
        return installed(req_name(requirement))
    if req.marker is not None and not req.marker.evaluate():
        return True
    try:
        have = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return not req.specifier or req.specifier.contains(have, prereleases=True)


def req_name(requirement):
    return normalize(re.split(r"[\s<>=!~;\[(@]", requirement.strip(), 1)[0])


def found_on_path(module):
    """Whether `module` (dotted) is found on sys.path by the path finder alone, walking the packages'
    directories without importing them (importlib.util.find_spec imports every parent package:
    setuptools for setuptools.build_meta, 1.5 s under emulation, in a helper that builds nothing)."""
    from importlib.machinery import PathFinder
    path = None
    for part in module.split("."):
        spec = PathFinder.find_spec(part, path)
        if spec is None:
            return False
        path = spec.submodule_search_locations
    return True


def backend_importable(module):
    """Whether the image can import the backend module (found without running it)."""
    try:
        # Found by the file system walk: importable. Not found: asked again the thorough way (a parent
        # package may extend its __path__ or a meta-path finder may provide it).
        return found_on_path(module) or importlib.util.find_spec(module) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def importable_by(python, module):
    """backend_importable, asked of another interpreter (the overlay venv's)."""
    import subprocess
    try:
        return subprocess.run([python, "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec(sys.argv[1]) is None)",
                               module], capture_output=True, timeout=60,
                              env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def backend_distribution(module, python):
    """'NAME VERSION' of the distribution that provides the backend module for `python` (the image's
    interpreter or the overlay venv's), or None. The image's own interpreter is asked in this process
    (its metadata is the same; one interpreter start less under emulation)."""
    if python == sys.executable:
        top = module.split(".")[0]
        try:  # the usual case first: a distribution named as the module's package (setuptools, flit_core, hatchling)
            d = importlib.metadata.distribution(top)
            if top in (d.read_text("top_level.txt") or "").split() or any(
                    str(f).split("/")[0] == top for f in (d.files or [])[:2000]):
                return ("%s %s" % (d.metadata["Name"] or top, d.version))[:200]
        except Exception:  # noqa: BLE001 - none by that name: every distribution's packages are read
            pass
        try:
            d = (importlib.metadata.packages_distributions().get(top) or [None])[0]
            return ("%s %s" % (d, importlib.metadata.version(d)))[:200] if d else None
        except Exception:  # noqa: BLE001 - unreadable metadata: as the subprocess would, name nothing
            return None
    code = ("import importlib.metadata as m, sys; top = sys.argv[1].split('.')[0]\n"
            "d = (m.packages_distributions().get(top) or [None])[0]\n"
            "print('%s %s' % (d, m.version(d)) if d else '')")
    try:
        import subprocess
        out = subprocess.run([python, "-c", code, module], capture_output=True, text=True, timeout=60,
                             env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        return out.stdout.strip()[:200] or None
    except (OSError, subprocess.SubprocessError):
        return None


# Build requirements a view may hold: distributions whose image metadata names all they import. Debian's
# copies of others import what their metadata does not declare (their unvendored `packaging`, `distro`:
# pdm-pep517, scikit-build), so a build that needs one sees the whole image, as before.
VIEW_DISTRIBUTIONS = {"setuptools", "wheel", "flit-core"}


def build_view(requires, backend, scratch):
    """What a build without isolation may see of the image's packages: a directory of symlinks to the
    distributions of the build requirements and of their requirements (closure over the image's
    metadata), with what setuptools' get_requires_for_build_wheel asks for (`wheel`); or None when it
    cannot be made (no `packaging`, a distribution without a readable location) or the build needs a
    distribution outside VIEW_DISTRIBUTIONS.

    pep517_inprocess.py puts it on sys.path in place of the image's site directories, so the build
    sees what pip's isolated build would (its build requirements), not every package of the image:
    setuptools then reads the entry points of these few distributions, not of the image's fifty, and
    loads no other distribution's setuptools plugins (isort's distutils command, for one). Under
    emulation each of those reads is a traced system call of a millisecond (measured: 2 810 of a
    4 142-line build trace of a one-module sdist were entry_points.txt reads). Made before the trace
    starts, by this (untraced) helper: the symlinks are PyTI's, not the package's doing."""
    try:
        from packaging.markers import default_environment
        from packaging.requirements import Requirement
    except ImportError:
        return None
    want = [(r, ("",)) for r in requires]
    if backend.partition(":")[0].strip().startswith("setuptools"):
        want.append(("wheel", ("",)))
    seen, dists, env = set(), [], default_environment()
    while want:
        text, extras = want.pop()
        try:
            req = Requirement(text)
        except Exception:  # noqa: BLE001 - an unparsable requirement: the backend decides
            continue
        if req.marker is not None and not any(req.marker.evaluate(dict(env, extra=e)) for e in extras):
            continue
        key = normalize(req.name)
        if key in seen:
            continue
        if key not in VIEW_DISTRIBUTIONS:
            return None
        seen.add(key)
        try:
            d = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            continue  # not in the image: pep517_inprocess names it missing, as before
        dists.append(d)
        want += [(r, ("",) + tuple(req.extras)) for r in (d.requires or [])]
    view = os.path.join(scratch, "build-view")
    os.makedirs(view, exist_ok=True)
    listings = {}
    for d in dists:
        meta = getattr(d, "_path", None)
        if meta is None:
            return None
        meta = str(meta)
        base = os.path.dirname(meta)
        if base not in listings:
            listings[base] = os.listdir(base)
        names = {os.path.basename(meta)}
        tops = set((d.read_text("top_level.txt") or "").split())
        if not tops:
            tops = {str(f).split("/")[0] for f in (d.files or []) if not str(f).startswith("..")}
        found = {n for n in listings[base] for top in tops if n == top or (n.startswith(top + ".") and n.endswith((".py", ".so")))}
        if not found:
            return None  # where its modules are is unknown: the build sees the whole image, as before
        names |= found
        for n in names:
            link = os.path.join(view, n)
            if not os.path.lexists(link):
                os.symlink(os.path.join(base, n), link)
    return view


def missing_tools(output):
    """What a failed build's log says the image lacks (compilers, tools, headers, libraries)."""
    named = []
    for pattern, label in TOOLCHAIN_PATTERNS:
        for m in re.finditer(pattern, output):
            what = label.format(*(g for g in m.groups() if g)) if m.groups() and any(m.groups()) else label
            if "{}" in what:
                continue
            key = re.sub(r" \(.*\)$", "", what)
            if key not in [re.sub(r" \(.*\)$", "", n) for n in named]:
                named.append(what)
    return named[:MAX_NAMED]


def overlay_env(requires, have, scratch, wheelhouse, raw, report):
    """A build venv over the image's packages holding the build requirements that the wheelhouse has
    and the image lacks or has at another version; its interpreter, or sys.executable when none is needed.
    Wheels only (`--only-binary :all:`): no package code runs outside build.strace."""
    wanted = [r for r in requires if req_name(r) in have and not satisfied_by_image(r)]
    if not wanted:
        return sys.executable
    venv = os.path.join(scratch, "build-env")
    if run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv]) != 0:
        return sys.executable
    python = os.path.join(venv, "bin", "python")
    print("build: installing %s from the wheelhouse over the image's packages" % ", ".join(wanted))

    def pip_install(reqs, n):
        code, _ = capture(STRACE + ["-o", os.path.join(raw, "build-env-%d.strace" % n), sys.executable, "-m", "pip",
                                    "--python", python, "install", "--no-index", "--only-binary", ":all:",
                                    "--find-links", wheelhouse] + reqs)
        return code == 0
    installed_now = wanted if pip_install(wanted, 0) else [r for i, r in enumerate(wanted, 1) if len(wanted) > 1 and pip_install([r], i)]
    # One whose own dependencies the wheelhouse lacks is left to the image (pep517_inprocess names it if unmet).
    report["overlay"] = installed_now
    if len(installed_now) < len(wanted):
        report["overlay_failed"] = [r for r in wanted if r not in installed_now]
    return python


def build_env_command(plan_path, wheelhouse, requires, scratch, tree, out, report):
    """The argv (without strace) of an isolated build in the environment the host planned (pyti_build_env.py),
    or None, with build.json's `build_env` saying why `python -m build` and its pip make it instead."""
    spec, why = pyti_build_env.plan_environment(plan_path, wheelhouse, requires)
    if spec is None:
        report["build_env"] = {"installer": "pip", "reason": why[:1000]}
        print("build: %s: `python -m build` makes the isolated environment with pip" % why)
        return None
    spec_path, outcome_path = os.path.join(scratch, "build-env-spec.json"), os.path.join(scratch, "build-env-outcome.json")
    write_json(spec_path, spec)
    # Installed before the trace starts (no wheel's code runs); when that fails, the traced script tries
    # again and says why in build.json.
    venv, _ = pyti_build_env.make_environment(spec)
    return [sys.executable, os.path.join(HERE, "pyti_build_env.py")] + (["--venv", venv] if venv else []) + [spec_path, outcome_path, tree, out]


def view_args(python, requires, backend, scratch, report):
    """pep517_inprocess.py's `--site-view DIR` for a build with the image's own interpreter (build_view;
    build.json `build_view`: the distributions it holds), or nothing (an overlay venv's build, or no view)."""
    if python != sys.executable:
        return []
    view = build_view(requires, backend, scratch)
    if view is None:
        return []
    report["build_view"] = {"distributions": sorted(n for n in os.listdir(view) if n.endswith((".dist-info", ".egg-info")))}
    return ["--site-view", view]


def main():
    dist, source, meta_dir, out, raw, scratch, wheelhouse = sys.argv[1:8]
    plan_path = sys.argv[8] if len(sys.argv) > 8 else None
    report = {"input": os.path.basename(dist)}
    if dist.endswith(".whl"):
        shutil.copy(dist, out)
        report.update(mode="prebuilt", wheel=os.path.basename(dist))
        write_json(os.path.join(raw, "build.json"), report)
        print("build: the input is a wheel; nothing to build")
        return 0
    meta = read_json(os.path.join(meta_dir, "inspect.json"), {}) or {}
    requires = [r for r in (meta.get("build_requires") or ["setuptools>=40.8.0", "wheel"]) if isinstance(r, str)]
    backend = meta.get("build_backend") or "setuptools.build_meta:__legacy__"
    in_tree_backend = bool(meta.get("backend_path"))
    have = wheelhouse_names(wheelhouse)
    req_names = [req_name(r) for r in requires]
    isolated = bool(req_names) and all(n in have for n in req_names)
    tree = os.path.join(scratch, "src")
    shutil.copytree(source, tree, symlinks=True)
    trace = STRACE + ["-o", os.path.join(raw, "build.strace")]
    report.update(mode="isolated" if isolated else "no-isolation", build_requires=requires, build_backend=backend)
    toolchain = []
    python = sys.executable
    if not isolated:  # built with the image's packages: name the requirements neither it nor the wheelhouse has
        # Version-aware: the image's flit_core 3.8 does not satisfy `flit_core>=3.12`.
        absent = [r for r, n in zip(requires, req_names) if n not in have and not satisfied_by_image(r)]
        toolchain = [TOOLCHAIN_REQUIREMENTS[n] for n in req_names if n in TOOLCHAIN_REQUIREMENTS and n not in have]
        python = overlay_env(requires, have, scratch, wheelhouse, raw, report)
        absent += [r for r in report.get("overlay_failed", []) if not satisfied_by_image(r)]
        module = backend.partition(":")[0].strip()
        if module and not in_tree_backend and not (backend_importable(module) if python == sys.executable
                                                   else importable_by(python, module)):
            # The backend is neither in the image nor among the wheelhouse's overlay: nothing can build it.
            provider = [r for r, n in zip(requires, req_names) if n in module.replace(".", "-").replace("_", "-")
                        or module.split(".")[0].replace("_", "-") in n]
            toolchain.append("build backend %s%s" % (module, " (%s)" % ", ".join(provider) if provider else ""))
            absent = [r for r in absent if r not in provider]
        if absent:
            report["missing_build_requirements"] = absent
    if toolchain and not isolated and any(t.startswith("build backend") for t in toolchain):
        report.update(exit_code=4, wheel=None, missing_toolchain=toolchain)
        write_json(os.path.join(raw, "build.json"), report)
        print("build: the image cannot build this: %s" % "; ".join(toolchain))
        return 4
    if not isolated and not in_tree_backend:
        found = backend_distribution(backend.partition(":")[0].strip(), python)
        if found:
            report["backend_distribution"] = found
    env_cmd = build_env_command(plan_path, wheelhouse, requires, scratch, tree, out, report) if isolated else None
    print("build: %s build (backend %s)" % (report["mode"], backend))
    if env_cmd:  # the host's planned build environment, without pip (see pyti_build_env.py)
        code, output = capture(trace + env_cmd, cwd=tree)
        report["build_env"] = pyti_build_env.read_outcome(env_cmd[-3]) or {"source": "plan", "installer": "installer",
                                                                           "error": "the build environment said nothing"}
    elif isolated:  # `build` makes a venv and installs the build requirements from the wheelhouse
        code, output = capture(trace + [sys.executable, "-m", "build", "--wheel", "--outdir", out, tree], cwd=tree)
    else:  # the image's backend, its hooks called in one process (see pep517_inprocess.py); forked warm when it can be
        code, output, warm = traced_capture(python, [os.path.join(HERE, "pep517_inprocess.py")] + view_args(python, requires, backend, scratch, report)
                                            + [tree, out], os.path.join(raw, "build.strace"), cwd=tree)
        report["warm"] = warm
    unmet = re.findall(r"No matching distribution found for (\S+)", output)
    if isolated and code != 0 and unmet and not os.listdir(out):
        # The wheelhouse had the build requirements but not all of theirs, so the isolated build env
        # could not be made and setup.py never ran: build once more with the image's backend (the
        # same fallback as for a requirement missing outright), so the package's own code runs traced.
        report["isolated_build_unmet"] = unmet[:20]
        os.replace(os.path.join(raw, "build.strace"), os.path.join(raw, "build-isolated.strace"))
        tree = os.path.join(scratch, "src-no-isolation")
        shutil.copytree(source, tree, symlinks=True)
        report["mode"] = "no-isolation"
        print("build: the isolated build env lacks %s; building again without isolation" % ", ".join(unmet[:5]))
        code, output, report["warm"] = traced_capture(sys.executable, [os.path.join(HERE, "pep517_inprocess.py")]
                                                      + view_args(sys.executable, requires, backend, scratch, report) + [tree, out],
                                                      os.path.join(raw, "build.strace"), cwd=tree)
    if "build_view" in report and "pep517: the build sees all of the image's packages" in output:
        report["build_view"]["widened"] = True
    wheels = [f for f in os.listdir(out) if f.endswith(".whl")]
    report.update(exit_code=code, wheel=wheels[0] if wheels else None)
    missing = re.findall(r"Missing dependencies:[ \t]*\n((?:[ \t]+\S.*\n?)+)", output)
    if missing:  # also when the build, tried all the same, passed: the report says it was built without them
        named = [m.strip() for m in "".join(missing).splitlines() if m.strip()]
        report["missing_build_requirements"] = sorted(set(report.get("missing_build_requirements", []) + named))
    if code != 0 and not wheels:
        m = re.search(r"pep517: cannot import the build backend: (.{0,300})", output)
        if code == 4 and m:
            toolchain.append("build backend %s (the image's copy does not import: %s)" % (backend.partition(":")[0], m.group(1).strip()))
        toolchain += [t for t in missing_tools(output) if t not in toolchain]
        unmet_reqs = missing or report.get("missing_build_requirements")
        if unmet_reqs and all(t.endswith(WEAK) for t in toolchain):
            toolchain = []  # a script's "cmd: not found" beside missing requirements: those say more
        if toolchain:
            report["missing_toolchain"] = toolchain[:MAX_NAMED]
            code = 4
        elif unmet_reqs or "No matching distribution found" in output:
            # Tried all the same without them, and it failed: the missing requirements are the cause named.
            report["missing_build_requirements"] = report.get("missing_build_requirements") or requires
            code = 3
    report["exit_code"] = code
    write_json(os.path.join(raw, "build.json"), report)
    return code


if __name__ == "__main__":
    sys.exit(main())
