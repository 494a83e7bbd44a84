"""PyTI's minimal wheel installer: installs the given wheels, in the order given, into the environment
of the interpreter that runs it (a venv's python), with PyPA's `installer` (the image's
python3-installer). No resolver, no index, no dependency handling: the caller (pyti_install_plan.py)
decided the exact set from the host's resolution and checked it.

Usage: VENV/bin/python pyti_wheel_install.py [--no-compile] [--requested WHEEL] WHEEL...
       python3 pyti_wheel_install.py --venv VENV [--no-compile] [--requested WHEEL] WHEEL...
With --venv, the image's python installs into that venv (its paths as the venv's python's sysconfig
gives them, scripts run by VENV/bin/python): the install task's way, so that the guest's warm Python can
run it (pyti_warm.py).
Each wheel's modules are compiled to bytecode (optimization level 0, as pip does by default), so that
imports in the emulator do not compile them later. Writes INSTALLER ("pyti") and, for the requested
wheel, REQUESTED into its .dist-info, as pip would. Exit 1 with the reason when a wheel cannot be
installed (a broken archive, a file that cannot be written). A file another wheel installed before is
overwritten, as pip does.
"""
import os
import sys
import sysconfig

# The image's installer, at the END of sys.path: the venv's own packages (none yet) come first.
sys.path.append("/usr/lib/python3/dist-packages")
import installer  # noqa: E402
from installer.destinations import SchemeDictionaryDestination  # noqa: E402
from installer.sources import WheelFile  # noqa: E402


class OverwritingDestination(SchemeDictionaryDestination):
    """installer refuses to overwrite a file; pip overwrites one another distribution installed (the
    shared `backports/__init__.py` of the backports.* distributions): the later wheel wins, as with pip."""

    def write_to_fs(self, scheme, path, stream, is_executable):
        target = self._path_with_destdir(scheme, path)
        if os.path.lexists(target) and not os.path.isdir(target):
            os.remove(target)
        return super().write_to_fs(scheme, path, stream, is_executable)


def install_wheels(paths, scheme, interpreter, compile_levels=(0,), requested=None, log=print):
    """Installs the wheels at `paths`, in that order, into the environment whose install paths are
    `scheme` (a sysconfig paths dict) and whose scripts run `interpreter`; returns None, or the reason
    the first wheel that could not be installed failed (the ones before it stay installed)."""
    for path in paths:
        try:
            with WheelFile.open(path) as source:
                paths_of = dict(scheme)
                paths_of["headers"] = os.path.join(scheme["data"], "include", "site",
                                                   "python%d.%d" % sys.version_info[:2], source.distribution)
                destination = OverwritingDestination(
                    scheme_dict=paths_of, interpreter=interpreter, script_kind="posix",
                    bytecode_optimization_levels=list(compile_levels))
                extra = {"INSTALLER": b"pyti\n"}
                if requested and os.path.abspath(path) == os.path.abspath(requested):
                    extra["REQUESTED"] = b""
                installer.install(source, destination, extra)
        except Exception as e:  # noqa: BLE001 - any failure of one wheel ends the install with its reason
            return "%s could not be installed: %s: %s" % (os.path.basename(path), type(e).__name__, e)
        log("installed %s" % os.path.basename(path))
    return None


def venv_scheme(venv):
    """The install paths of the venv at `venv`, as its own python's sysconfig gives them."""
    names = {k: venv for k in ("base", "platbase", "installed_base", "installed_platbase")}
    try:
        return sysconfig.get_paths(scheme="venv", vars=names)  # Python >= 3.11
    except KeyError:
        return sysconfig.get_paths(scheme="posix_prefix", vars=names)


def main(argv):
    compile_levels = [0]
    requested = None
    scheme, interpreter = sysconfig.get_paths(), sys.executable
    while argv and argv[0].startswith("--"):
        if argv[0] == "--no-compile":
            compile_levels = []
            argv = argv[1:]
        elif argv[0] == "--venv" and len(argv) > 1:
            venv = os.path.abspath(argv[1])
            scheme, interpreter = venv_scheme(venv), os.path.join(venv, "bin", "python")
            argv = argv[2:]
        elif argv[0] == "--requested" and len(argv) > 1:
            requested = argv[1]
            argv = argv[2:]
        else:
            print("pyti_wheel_install: unknown option %s" % argv[0], file=sys.stderr)
            return 2
    # Without --venv, the scheme of this interpreter's environment: run by the venv's python, the venv's paths.
    failed = install_wheels(argv, scheme, interpreter, compile_levels, requested)
    if failed:
        print("install: " + failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
