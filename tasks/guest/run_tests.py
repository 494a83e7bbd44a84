"""Task `test`: the distribution's test suite with pytest (unittest suites too), under coverage.

Usage: VENV/bin/python run_tests.py SOURCE_DIR META_DIR COVERAGE_DIR RAW_DIR SCRATCH
The installed package is what is tested: only the tests and the pytest configuration are copied
out of the source tree, so the package imports from the venv (C extensions included).
Writes RAW_DIR/junit.xml and RAW_DIR/pytest.json; COVERAGE_DIR/.coverage for the coverage task.
Exit 0 when the suite ran (failed tests are data in junit.xml), else pytest's exit code.
"""
import json
import os
import shutil
import subprocess
import sys

CONFIG_FILES = ("conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml")


def main():
    source, meta_dir, cov_dir, raw, scratch = sys.argv[1:6]
    with open(os.path.join(meta_dir, "inspect.json")) as f:
        meta = json.load(f)
    tests = meta.get("test_paths") or []
    result = {"test_paths": tests}
    if not tests:
        result.update(exit_code=5, note="the distribution ships no tests")
        with open(os.path.join(raw, "pytest.json"), "w") as f:
            json.dump(result, f)
        print("test: the distribution ships no tests")
        return 0
    tree = os.path.join(scratch, "tests")
    os.makedirs(tree)
    for name in tests + [c for c in CONFIG_FILES if os.path.isfile(os.path.join(source, c))]:
        src = os.path.join(source, name)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, os.path.join(tree, name))
    modules = [os.path.basename(m)[:-3] if m.endswith(".py") else os.path.basename(m) for m in meta.get("modules", [])]
    env = dict(os.environ, COVERAGE_FILE=os.path.join(cov_dir, ".coverage"))
    cmd = [sys.executable, "-m", "coverage", "run"]
    if modules:
        cmd.append("--source=" + ",".join(modules))
    cmd += ["-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit2", "-rA", "--tb=long",
            "--junitxml=" + os.path.join(raw, "junit.xml")] + tests
    sys.stdout.flush()
    code = subprocess.call(cmd, cwd=tree, env=env)
    result["exit_code"] = code
    with open(os.path.join(raw, "pytest.json"), "w") as f:
        json.dump(result, f)
    # 0: all passed, 1: some failed, 5: nothing collected. Anything else: pytest itself failed.
    return 0 if code in (0, 1, 5) else code


if __name__ == "__main__":
    sys.exit(main())
