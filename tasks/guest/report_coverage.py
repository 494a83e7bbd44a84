"""Task `coverage`: line coverage of the package during its tests, as JSON.

Usage: python3 report_coverage.py COVERAGE_DIR RAW_DIR [TEST_VENV]
Run by the image's python3 (the test venv is isolated from the image). The image's coverage reads
the data; when it cannot (data of a newer coverage from the wheelhouse), the test venv's does.
No data (no tests ran, or none of the package's code ran) is a note, not a failure.
"""
import os
import subprocess
import sys

NO_DATA = "No data to report"


def note(out, text):
    with open(out, "w") as f:
        f.write('{"note": "%s"}' % text)
    print("coverage: " + text)
    return 0


def main():
    cov_dir, raw = sys.argv[1:3]
    venv = sys.argv[3] if len(sys.argv) > 3 else None
    data = os.path.join(cov_dir, ".coverage")
    out = os.path.join(raw, "coverage.json")
    if not os.path.exists(data):
        return note(out, "no data: no tests ran")
    env = dict(os.environ, COVERAGE_FILE=data)
    pythons = [sys.executable]
    if venv and os.path.exists(os.path.join(venv, "bin", "python")):
        pythons.append(os.path.join(venv, "bin", "python"))
    last = ""
    for py in pythons:
        p = subprocess.run([py, "-P", "-m", "coverage", "json", "-o", out, "--ignore-errors"], env=env, cwd=cov_dir,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        last = p.stdout.decode("utf-8", "replace")
        sys.stdout.write(last)
        if p.returncode == 0 and os.path.exists(out):
            sys.stdout.flush()
            subprocess.call([py, "-P", "-m", "coverage", "report", "--ignore-errors"], env=env, cwd=cov_dir)
            return 0
        if NO_DATA in last:
            return note(out, "no data: none of the package's code ran under the tests")
    print("coverage: could not read the coverage data", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
