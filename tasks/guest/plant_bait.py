"""Task `bait`: plants the audit's canary credentials where stealers look, before anything runs.

Usage: plant_bait.py RAW_DIR FILES_B64
FILES_B64 is base64 of a JSON list of {"path": "~/..." or "/abs", "contentBase64": "..."}.
Files are world-readable (tasks run as different uids); directories 0755. A file that cannot be
written is listed in RAW_DIR/bait.json as failed; the task always exits 0.
"""
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyti_common import write_json  # noqa: E402


def main():
    raw, files_b64 = sys.argv[1:3]
    files = json.loads(base64.b64decode(files_b64))
    home = os.path.expanduser("~")
    planted, failed = [], []
    for f in files[:100]:
        rel = f.get("path", "")
        path = os.path.join(home, rel[2:]) if rel.startswith("~/") else rel
        if not path.startswith("/") or ".." in path.split("/"):
            continue
        try:
            d = os.path.dirname(path)
            os.makedirs(d, mode=0o755, exist_ok=True)
            with open(path, "wb") as out:
                out.write(base64.b64decode(f.get("contentBase64", "")))
            os.chmod(path, 0o644)
            planted.append(path)
        except OSError as e:
            failed.append({"path": path, "error": str(e)[:200]})
    # Directories made on the way must be enterable by every slot uid.
    for p in planted:
        d = os.path.dirname(p)
        while d.startswith(home + "/"):
            try:
                os.chmod(d, 0o755)
            except OSError:
                pass
            d = os.path.dirname(d)
    write_json(os.path.join(raw, "bait.json"), {"home": home, "planted": planted, "failed": failed})
    print("bait: planted %d files (%d failed)" % (len(planted), len(failed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
