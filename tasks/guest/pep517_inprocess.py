"""A minimal PEP 517 frontend for builds without isolation: one process that imports the build
backend once and calls its hooks (get_requires_for_build_wheel, then build_wheel).

`python -m build --no-isolation` runs each hook in a fresh interpreter, importing the backend
(setuptools, with pkg_resources) twice more; in a software-emulated VM that costs tens of seconds.
The hooks and their effects are the same; only the number of processes differs.

Usage: pep517_inprocess.py [--requires-fd FD] [--site-view DIR] SOURCE_TREE OUTDIR
Exit 0 with the wheel in OUTDIR; 3 when build requirements are missing (listed after
"Missing dependencies:") and the build, tried all the same, failed; 4 when the image's build backend
cannot be imported ("pep517: cannot import the build backend"); 1 when the build fails.
With --requires-fd (an isolated build environment, pyti_build_env.py): what get_requires_for_build_wheel
returned is written to the inherited file descriptor FD (a pipe: a JSON list; no file appears in the
trace as the package's), which is then closed; when some of it is not installed the hook runner stops
there with exit 5, without building, so that its caller installs it and runs the hooks again (as
`python -m build` does between the two hooks).
With --site-view (a build without isolation, build_wheel.py's build_view): DIR, a directory of the
image's build requirements, takes the place of the image's site directories on sys.path before the
backend is imported, as pip's isolated build environment would; when get_requires_for_build_wheel then
asks for what DIR lacks, or the backend does not import from DIR alone, the image's site directories
come back ("pep517: the build sees all of the image's packages"), as a build without isolation had them.
"""
import importlib
import os
import re
import sys
import traceback

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None


def load_backend(tree):
    spec, paths = "setuptools.build_meta:__legacy__", []
    pyproject = os.path.join(tree, "pyproject.toml")
    if os.path.isfile(pyproject) and tomllib is not None:
        with open(pyproject, "rb") as f:
            system = tomllib.load(f).get("build-system", {})
        spec = system.get("build-backend") or spec
        paths = [os.path.join(tree, p) for p in system.get("backend-path", [])]
    sys.path[:0] = paths
    module_name, _, attrs = spec.partition(":")
    obj = importlib.import_module(module_name)
    for attr in filter(None, attrs.split(".")):
        obj = getattr(obj, attr)
    return spec, obj


def in_tree_backend(tree):
    """Whether pyproject.toml names a backend-path (the backend is the package's own code)."""
    try:
        with open(os.path.join(tree, "pyproject.toml"), "rb") as f:
            return bool(tomllib.load(f).get("build-system", {}).get("backend-path"))
    except Exception:  # noqa: BLE001 - no or broken pyproject, or no tomllib
        return False


def missing(requirements):
    """Requirements not satisfied by what is installed (by name and version)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        from packaging.requirements import Requirement
    except ImportError:  # packaging absent: check names only
        Requirement = None
    out = []
    for text in requirements:
        try:
            req = Requirement(text) if Requirement else None
            # Without packaging (an isolated build environment need not have it): by name, markers not evaluated.
            name = req.name if req else re.split(r"[\s<>=!~;\[(@]", text.strip(), 1)[0]
            if req and req.marker is not None and not req.marker.evaluate():
                continue
            have = version(name)
            if req and req.specifier and not req.specifier.contains(have, prereleases=True):
                out.append(text)
        except PackageNotFoundError:
            out.append(text)
        except Exception:  # an unparsable requirement: let the backend decide
            continue
    return out


def narrow_path(view):
    """sys.path with `view` in place of the interpreter's site directories; returns the path as it was.
    A pkg_resources imported already (a warm interpreter's) has its working set made again from the
    new path, as importing it now would."""
    import site
    hidden = set(site.getsitepackages()) | {site.getusersitepackages()}
    full = list(sys.path)
    sys.path[:] = [p for p in sys.path if p not in hidden] + [view]
    reset_path_state()
    return full


def reset_path_state():
    importlib.invalidate_caches()
    pkg_resources = sys.modules.get("pkg_resources")
    if pkg_resources is not None and hasattr(pkg_resources, "_initialize_master_working_set"):
        pkg_resources._initialize_master_working_set()


def main():
    args = sys.argv[1:]
    requires_fd = view = None
    while args[:1] in (["--requires-fd"], ["--site-view"]):
        if args[0] == "--requires-fd":
            requires_fd = int(args[1])
        else:
            view = args[1]
        args = args[2:]
    tree, outdir = os.path.abspath(args[0]), os.path.abspath(args[1])
    full_path = narrow_path(view) if view else None
    os.chdir(tree)
    try:
        try:
            spec, backend = load_backend(tree)
        except ImportError as e:
            if full_path is None or in_tree_backend(tree):
                raise
            # Debian's copy may import what its metadata does not declare (pdm-pep517 and its
            # unvendored `packaging`): the image's packages, as a build without isolation had them.
            print("pep517: the build sees all of the image's packages (the backend does not import from its"
                  " requirements alone: %s)" % e)
            sys.stdout.flush()
            sys.path[:], full_path = full_path, None
            reset_path_state()
            spec, backend = load_backend(tree)
    except ImportError as e:
        # The image's copy of the backend cannot be imported (one of its own modules is missing): the
        # image cannot build this; an in-tree backend (backend-path) failing is the package's own error.
        if in_tree_backend(tree):
            raise
        traceback.print_exc()
        print("pep517: cannot import the build backend: %s: %s" % (type(e).__name__, e))
        return 4
    print("pep517: backend %s, in one process" % spec)
    sys.stdout.flush()
    requires = []
    if hasattr(backend, "get_requires_for_build_wheel"):
        requires = list(backend.get_requires_for_build_wheel({}))
    lacking = missing(requires)
    if lacking and full_path is not None:
        # Asked for what the view does not hold: the image's packages, as a build without isolation had them.
        print("pep517: the build sees all of the image's packages (the backend asks for %s)" % ", ".join(lacking))
        sys.stdout.flush()
        sys.path[:] = full_path
        reset_path_state()
        lacking = missing(requires)
    if requires_fd is not None:
        import json
        with os.fdopen(requires_fd, "w", encoding="utf-8") as f:
            json.dump([str(r) for r in requires], f)
        if lacking:
            print("pep517: the backend asks for %s, not installed: stopping before build_wheel" % ", ".join(lacking))
            return 5
    os.makedirs(outdir, exist_ok=True)
    if lacking:
        # Build anyway: what the package's own build code does still runs, traced (a malicious
        # setup.py that names `requests` among its requirements gets it from the fallback modules).
        print("Missing dependencies:\n" + "".join("\t%s\n" % r for r in lacking))
        sys.stdout.flush()
        try:
            name = backend.build_wheel(outdir, {})
        except BaseException:  # SystemExit too: without its requirements the build may well fail
            traceback.print_exc()
            return 3
        print("pep517: built %s although its requirements were missing" % name)
        return 0
    name = backend.build_wheel(outdir, {})
    print("pep517: built %s" % name)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except BaseException:  # the backend failed: its traceback is the build log's error
        traceback.print_exc()
        sys.exit(1)
