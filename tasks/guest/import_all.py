"""Task `import`: import what the installed distribution declares as importable (run under strace).

Usage: VENV/bin/python import_all.py META_DIR RAW_DIR
Needs only the standard library: it runs with the audited venv's interpreter, which sees nothing else.

The modules are the names in top_level.txt, else the top-level names of the wheel's RECORD, less
build helpers and names that are not the package's modules (versioneer, setup, conftest, tests,
docs, examples, benchmarks; see NOT_IMPORTABLE). The primary modules are those named like the
distribution (PyYAML -> yaml, python-dateutil -> dateutil, foo-bar -> foo_bar); when none is, every
module is primary. A module that raises ImportError by design is `optional`: a compatibility shim
or optional-extension module (`_yaml`, `six_compat`), or one whose ImportError is raised by its own
code or names a module that the distribution does not require unconditionally (an optional
dependency). A primary module named like the distribution is never optional.

Writes RAW_DIR/import.json: {"distribution", "primary": [...], "modules": [{"module", "ok",
"primary", "optional", "file" | "error", "traceback"}], "error"?, "note"?}.
Exit 1 when a primary module fails to import (and is not optional) or the distribution is not
installed; a distribution with nothing to import (a meta-package, stubs only) passes with a `note`.
"""
import importlib
import importlib.metadata as md
import json
import keyword
import re
import sys
import traceback

# Top-level names that are build helpers, tests or documentation, never the package's API.
NOT_IMPORTABLE = {"versioneer", "setup", "conftest", "noxfile", "fabfile", "ez_setup", "distribute_setup",
                  "test", "tests", "testing", "doc", "docs", "example", "examples", "benchmark", "benchmarks",
                  "bench", "tools", "scripts", "__pycache__"}
MAX_MODULES = 200


def _norm(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def top_level(dist):
    """Top-level names the distribution installs (top_level.txt, else its RECORD), unfiltered."""
    text = dist.read_text("top_level.txt")
    if text:
        return sorted({n.strip().replace("/", ".") for n in text.split() if n.strip()})
    names = set()
    for f in dist.files or []:
        parts = f.parts
        if not parts or parts[0].endswith((".dist-info", ".data", ".egg-info")) or parts[0] in ("..", "__pycache__"):
            continue
        if len(parts) > 1:
            names.add(parts[0])
        elif parts[0].endswith(".py"):
            names.add(parts[0][:-3])
        elif parts[0].endswith((".so", ".pyd")):
            names.add(parts[0].split(".")[0])
    return sorted(names)


def _identifier_path(name):
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in name.split("."))


def importable(dist):
    """The modules the import and execute tasks import: top_level() less NOT_IMPORTABLE and non-names."""
    out = []
    for n in top_level(dist):
        first = n.split(".")[0]
        if not _identifier_path(n) or first.lower() in NOT_IMPORTABLE or first.startswith("test_"):
            continue
        out.append(n)
    return out[:MAX_MODULES]


def name_variants(dist_name):
    """Module names a distribution of that name would use for its own package."""
    n = _norm(dist_name)
    out = {n}
    for prefix in ("python_", "py_", "py"):  # the first that fits: python-dateutil is not "thon_dateutil"
        if n.startswith(prefix) and len(n) > len(prefix):
            out.add(n[len(prefix):])
            break
    for suffix in ("_python", "_py", "py"):
        if n.endswith(suffix) and len(n) > len(suffix):
            out.add(n[:-len(suffix)])
            break
    return out


def required_names(dist):
    """Normalized names the distribution requires unconditionally (no `extra` in the marker)."""
    out = set()
    for req in dist.requires or []:
        name, _, marker = req.partition(";")
        if "extra" in marker:
            continue
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", name)
        if m:
            out |= name_variants(m.group(1))
    return out


def shim_like(module):
    last = module.rsplit(".", 1)[-1].lower()
    return last.startswith("_") or last.endswith("compat") or last.startswith("compat")


def optional_failure(module, exc, own, required):
    """Whether `exc`, raised importing `module`, is an ImportError the module raises by design."""
    if not isinstance(exc, ImportError):
        return False
    if shim_like(module):
        return True
    missing = getattr(exc, "name", None)
    if not isinstance(exc, ModuleNotFoundError) and not missing:
        return True  # raised by the module's own code (`raise ImportError("needs libfoo")`)
    if not missing:
        return False
    top = missing.split(".")[0]
    # A module of this distribution's own, or a dependency it requires, must be there.
    return _norm(top) not in own and _norm(top) not in required


def main():
    meta_dir, raw = sys.argv[1:3]
    with open(meta_dir + "/inspect.json", encoding="utf-8") as f:
        name = json.load(f)["name"]
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        out = {"distribution": name, "modules": [], "error": "distribution %s is not installed in the venv" % name}
        with open(raw + "/import.json", "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
        print("import: " + out["error"])
        return 1
    modules = importable(dist)
    variants = name_variants(dist.metadata["Name"] or name)
    matching = [m for m in modules if _norm(m) in variants]
    primary = set(matching or modules)
    own = {_norm(m.split(".")[0]) for m in top_level(dist)}
    required = required_names(dist)
    results = []
    for mod in modules:
        entry = {"module": mod, "primary": mod in primary}
        try:
            m = importlib.import_module(mod)
            entry.update(ok=True, file=getattr(m, "__file__", None))
        except BaseException as e:  # SystemExit from hostile modules too
            entry.update(ok=False, error="%s: %s" % (type(e).__name__, e), traceback=traceback.format_exc()[-8000:],
                         optional=mod not in matching and optional_failure(mod, e, own, required))
        results.append(entry)
    out = {"distribution": dist.metadata["Name"], "primary": sorted(primary), "modules": results}
    failed = [r for r in results if r["primary"] and not r["ok"] and not r.get("optional")]
    if not results:
        # A meta-package, a stub-only (`foo-stubs`) or scripts-only distribution: nothing to import is
        # not a failure of the package (its scripts still run in the execute task).
        out["note"] = ("no top-level module found (no top_level.txt and no module among the installed files, "
                       "less build helpers and tests): nothing to import")
    elif failed:
        out["error"] = "primary module %s failed to import: %s" % (failed[0]["module"], failed[0]["error"][:300])
    with open(raw + "/import.json", "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    for r in results:
        how = "ok" if r["ok"] else ("optional, " if r.get("optional") else "") + r["error"]
        print("import %s%s: %s" % (r["module"], " (primary)" if r["primary"] else "", how))
    if "error" in out or "note" in out:
        print("import: " + out.get("error", out.get("note", "")))
    return 1 if "error" in out else 0


if __name__ == "__main__":
    sys.exit(main())
