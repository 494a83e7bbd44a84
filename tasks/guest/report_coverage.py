"""Task `coverage`: line coverage of the package during its tests, as JSON.

Usage: report_coverage.py COVERAGE_DIR RAW_DIR
"""
import os
import subprocess
import sys


def main():
    cov_dir, raw = sys.argv[1:3]
    data = os.path.join(cov_dir, ".coverage")
    out = os.path.join(raw, "coverage.json")
    if not os.path.exists(data):
        with open(out, "w") as f:
            f.write('{"note": "no coverage data: no tests ran"}')
        print("coverage: no data (no tests ran)")
        return 0
    env = dict(os.environ, COVERAGE_FILE=data)
    code = subprocess.call([sys.executable, "-m", "coverage", "json", "-o", out, "--ignore-errors"], env=env)
    subprocess.call([sys.executable, "-m", "coverage", "report", "--ignore-errors"], env=env)
    return code


if __name__ == "__main__":
    sys.exit(main())
