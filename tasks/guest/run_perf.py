"""Task `perf`: the suite's slowest passed tests, timed again.

Usage: python3 run_perf.py RUN_DIR RAW_DIR SCRATCH
RUN_DIR is the test task's (venv, tree, test-outcomes.jsonl). The 5 slowest passed tests (call
duration) run together, 5 times, without coverage; RAW_DIR/perf.json lists per test the call
durations of its passed runs with min, median and max, in milliseconds.
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyti_testenv as te  # noqa: E402
from run_tests import pytest_cmd, stream  # noqa: E402
from pyti_common import write_json  # noqa: E402

SLOWEST = 5
RUNS = 5


def main():
    run_dir, raw, scratch = sys.argv[1:4]
    out = os.path.join(raw, "perf.json")
    header, records, _ = te.read_outcomes(os.path.join(run_dir, "test-outcomes.jsonl"))
    passed = [r for r in records if r.get("outcome") == "passed" and isinstance(r.get("call"), (int, float))]
    if not passed:
        write_json(out, {"note": "no passed tests to time", "tests": []})
        print("perf: no passed tests to time")
        return 0
    slowest = [r["nodeid"] for r in sorted(passed, key=lambda r: -r["call"])[:SLOWEST]]
    venv, tree = os.path.join(run_dir, "venv"), os.path.join(run_dir, "tree")
    rootdir = (header or {}).get("rootdir") or tree
    launcher = te.write_launcher(os.path.join(scratch, "bin"))
    times = {n: [] for n in slowest}
    for i in range(RUNS):
        path = os.path.join(scratch, "perf-%d.jsonl" % i)
        print("=== PyTI perf: run %d of %d ===" % (i + 1, RUNS))
        stream(pytest_cmd(launcher, venv) + ["--rootdir=" + rootdir] + [os.path.join(rootdir, n) for n in slowest],
               tree, te.pytest_env(venv, path))
        for r in te.read_outcomes(path)[1]:
            if r.get("nodeid") in times and r.get("outcome") == "passed":
                times[r["nodeid"]].append(round(float(r.get("call", 0)) * 1000, 3))
    tests = []
    for n in slowest:
        t = times[n]
        entry = {"test": n, "runs": len(t), "callMs": t}
        if t:
            entry.update(minMs=min(t), medianMs=round(statistics.median(t), 3), maxMs=max(t))
        tests.append(entry)
        print("perf: %s: %s" % (n, ", ".join("%.1f ms" % x for x in t) or "no passed run"))
    write_json(out, {"tests": tests, "runs": RUNS})
    return 0


if __name__ == "__main__":
    sys.exit(main())
