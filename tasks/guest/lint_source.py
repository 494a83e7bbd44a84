"""Tasks `lint` (pylint) and `style` (pycodestyle, the PEP 8 metric) over the package's modules.

Usage: lint_source.py pylint|pycodestyle SOURCE_DIR RAW_DIR [WHEELHOUSE]
pylint resolves imports against the source tree and the wheelhouse's wheels (a wheel is a zip that
Python, and so pylint, can import from), so dependencies are not reported as import errors even
when lint runs before, or without, the install.
Writes RAW_DIR/pylint.json and pylint.txt, or RAW_DIR/pycodestyle.txt.
Exit 0 when the linter ran; findings are data.
"""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyti_common import find_modules, module_bases  # noqa: E402


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
        # The package directories (src/, lib/, a declared package_dir) resolve the package's own imports.
        paths = [b for b in module_bases(source) if b != source]
        if wheelhouse:
            paths += sorted(glob.glob(os.path.join(wheelhouse, "*.whl")))
        hook = "import sys; sys.path[:0] = %r" % (paths,)
        code = subprocess.call([sys.executable, "-m", "pylint", "--rcfile=/dev/null", "--persistent=n",
                                "--init-hook", hook,
                                "--score=y", "--reports=n", "-j", "1",
                                "--output-format=json:%s,text:%s" % (os.path.join(raw, "pylint.json"),
                                                                     os.path.join(raw, "pylint.txt"))] + targets,
                               cwd=source)
        # Bits 1 (fatal) and 32 (usage error) mean pylint could not do its job.
        return 1 if code & 33 else 0
    with open(os.path.join(raw, "pycodestyle.txt"), "w") as out:
        code = subprocess.call([sys.executable, "-m", "pycodestyle", "--statistics", "--count",
                                "--max-line-length=79"] + targets, cwd=source, stdout=out)
    print("pycodestyle: exit %d" % code)
    return 0 if code in (0, 1) else code


if __name__ == "__main__":
    sys.exit(main())
