"""Tasks `lint` (pylint) and `style` (pycodestyle, the PEP 8 metric) over the package's modules.

Usage: lint_source.py pylint|pycodestyle SOURCE_DIR RAW_DIR [WHEELHOUSE]
pylint resolves imports against the source tree and the wheelhouse's wheels (a wheel is a zip that
Python, and so pylint, can import from), so dependencies are not reported as import errors even
when lint runs before, or without, the install.
Writes RAW_DIR/pylint.json and pylint.txt, or RAW_DIR/pycodestyle.txt.
Exit 0 when the linter ran; findings are data.

Security: neither linter runs any of the package's code (this is what lets VM audits run these tasks
in the host's bubblewrap sandbox instead of the guest; they stay sandboxed all the same):
- Both run as `python3 -I`: the current directory (the package's source) is not on sys.path, so a
  `pylint/`, `astroid.py` or `pycodestyle.py` of the package's is never imported in place of the
  tool's, and no PYTHON* variable or user site is read. While pylint lints, the package's import
  roots and the wheels come after the image's paths on sys.path, never before (PYLINT_HOOK): a module
  of the package's named like a standard or image module is never imported instead of it.
- pylint gets our configuration only (`--rcfile=/dev/null`: the package's pylintrc, setup.cfg,
  tox.ini or pyproject `[tool.pylint]` are not read, so it cannot name plugins to load or an
  init-hook to run); the init-hook is ours. Its source is parsed by astroid, never imported, with one
  exception in astroid itself that the hook removes: the `gi` brain's failed-import hook imports a
  `gi` package to build stubs for `gi.repository` (a package shipping `gi/` would run). C extensions
  are loaded only for standard-library modules (pylint's default; no allow-list is given).
- pycodestyle reads no configuration (its project files setup.cfg/tox.ini and the user's are
  ignored): every package is measured with the same options, and none can hide its violations.
"""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyti_common import find_modules, module_bases  # noqa: E402


# pylint's init-hook. The package's import roots (and the wheels) go after the image's own paths,
# not before: a module of the package named like one of the standard library or of pylint's own
# dependencies is never imported in its place by pylint or astroid (pylint itself prepends each
# target's root while it lints: patched to append). astroid's one importing hook is removed.
PYLINT_HOOK = """import sys
sys.path += %r
import pylint.lint.utils as _u
def _append_roots(args, _u=_u, sys=sys):
    original = list(sys.path)
    sys.path.extend(p for p in dict.fromkeys(_u.get_python_path(a) for a in args) if p not in sys.path)
    return original
_u._patch_sys_path = _append_roots
from astroid.manager import AstroidManager
_hooks = AstroidManager.brain['_failed_import_hooks']
_hooks[:] = [h for h in _hooks if getattr(h, '__name__', '') != '_import_gi_module']
"""

# pycodestyle's command line without its configuration files.
PYCODESTYLE_MAIN = ("import sys, pycodestyle; pycodestyle.PROJECT_CONFIG = (); pycodestyle.USER_CONFIG = None; "
                    "sys.argv[0] = 'pycodestyle'; pycodestyle._main()")


def main():
    tool, source, raw = sys.argv[1:4]
    wheelhouse = sys.argv[4] if len(sys.argv) > 4 else None
    targets = find_modules(source)
    if not targets:
        print("%s: no Python modules to check" % tool)
        open(os.path.join(raw, "pylint.json" if tool == "pylint" else "pycodestyle.txt"), "w").write(
            "[]" if tool == "pylint" else "")
        return 0
    sys.stdout.flush()
    if tool == "pylint":
        # The package directories (src/, lib/, a declared package_dir) resolve the package's own imports
        # (after the image's paths: see PYLINT_HOOK).
        paths = [b for b in module_bases(source) if b != source]
        if wheelhouse:
            paths += sorted(glob.glob(os.path.join(wheelhouse, "*.whl")))
        hook = PYLINT_HOOK % (paths,)
        code = subprocess.call([sys.executable, "-I", "-m", "pylint", "--rcfile=/dev/null", "--persistent=n",
                                "--init-hook", hook,
                                "--score=y", "--reports=n", "-j", "1",
                                "--output-format=json:%s,text:%s" % (os.path.join(raw, "pylint.json"),
                                                                     os.path.join(raw, "pylint.txt"))] + targets,
                               cwd=source)
        # Bits 1 (fatal) and 32 (usage error) mean pylint could not do its job.
        return 1 if code & 33 else 0
    with open(os.path.join(raw, "pycodestyle.txt"), "w") as out:
        code = subprocess.call([sys.executable, "-I", "-c", PYCODESTYLE_MAIN, "--statistics", "--count",
                                "--max-line-length=79"] + targets, cwd=source, stdout=out)
    print("pycodestyle: exit %d" % code)
    return 0 if code in (0, 1) else code


if __name__ == "__main__":
    sys.exit(main())
