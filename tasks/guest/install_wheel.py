"""Task `install`: a fresh venv (without the image's site packages), then the image's pip installs the
wheel into it offline from the wheelhouse, under strace.

Usage: install_wheel.py WHEEL_DIR VENV RAW_DIR WHEELHOUSE
Writes RAW_DIR/install.json, RAW_DIR/install.strace and RAW_DIR/pip-report.json.
Exit 3: a dependency cannot be satisfied from the wheelhouse.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyti_common import STRACE, capture, run, write_json  # noqa: E402

DEP_PATTERNS = [
    r"No matching distribution found for (\S+)",
    r"Could not find a version that satisfies the requirement (\S+)",
]


def main():
    wheel_dir, venv, raw, wheelhouse = sys.argv[1:5]
    wheels = sorted(f for f in os.listdir(wheel_dir) if f.endswith(".whl"))
    if not wheels:
        print("install: no wheel to install", file=sys.stderr)
        return 2
    # The venv is the package's own: no system site packages, so a release whose name and version the
    # image also has (six 1.16.0, attrs 22.2.0, ...) is installed and traced, not "already satisfied".
    # The image's pip installs into it (`--python` re-runs that pip with the venv's interpreter, both
    # processes under strace); the image's tools stay in /usr/lib/python3/dist-packages.
    code = run([sys.executable, "-m", "venv", "--without-pip", venv])
    if code != 0:
        return code
    cmd = STRACE + ["-o", os.path.join(raw, "install.strace"),
                    sys.executable, "-m", "pip", "--python", os.path.join(venv, "bin", "python"),
                    "install", "--no-index", "--find-links", wheelhouse, "--find-links", wheel_dir,
                    "--report", os.path.join(raw, "pip-report.json"),
                    os.path.join(wheel_dir, wheels[0])]
    code, output = capture(cmd)
    report = {"wheel": wheels[0], "exit_code": code}
    missing = sorted({m for p in DEP_PATTERNS for m in re.findall(p, output)})
    if code != 0 and missing:
        report["missing_dependencies"] = missing
        code = 3
    write_json(os.path.join(raw, "install.json"), report)
    return code


if __name__ == "__main__":
    sys.exit(main())
