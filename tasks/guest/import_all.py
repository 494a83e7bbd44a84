"""Task `import`: import every top-level module of the installed distribution (run under strace).

Usage: VENV/bin/python import_all.py META_DIR RAW_DIR
Writes RAW_DIR/import.json. Exit 1 when any module fails to import.
"""
import importlib
import importlib.metadata as md
import json
import sys
import traceback


def top_level(dist):
    text = dist.read_text("top_level.txt")
    if text:
        return sorted({n.strip() for n in text.split() if n.strip()})
    names = set()
    for f in dist.files or []:
        parts = f.parts
        if not parts or parts[0].endswith((".dist-info", ".data")) or parts[0] in ("..", "__pycache__"):
            continue
        if len(parts) > 1:
            names.add(parts[0])
        elif parts[0].endswith(".py"):
            names.add(parts[0][:-3])
        elif parts[0].endswith(".so"):
            names.add(parts[0].split(".")[0])
    return sorted(names)


def main():
    meta_dir, raw = sys.argv[1:3]
    with open(meta_dir + "/inspect.json") as f:
        name = json.load(f)["name"]
    dist = md.distribution(name)
    results = []
    for mod in top_level(dist):
        entry = {"module": mod}
        try:
            m = importlib.import_module(mod)
            entry.update(ok=True, file=getattr(m, "__file__", None))
        except BaseException as e:  # SystemExit from hostile modules too
            entry.update(ok=False, error="%s: %s" % (type(e).__name__, e), traceback=traceback.format_exc()[-8000:])
        results.append(entry)
    out = {"distribution": dist.metadata["Name"], "modules": results}
    if not results:
        out["error"] = "no top-level module found (no top_level.txt and no module among the installed files)"
        print("import: " + out["error"])
    with open(raw + "/import.json", "w") as f:
        json.dump(out, f, indent=1)
    for r in results:
        print("import %s: %s" % (r["module"], "ok" if r["ok"] else r["error"]))
    return 0 if results and all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
