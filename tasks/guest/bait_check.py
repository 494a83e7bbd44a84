"""Task `bait-check`: looks for the audit's canary values in files written during the audit.

Usage: bait_check.py RAW_DIR SPEC_B64
SPEC_B64 is base64 of JSON {"canaries": [{"id", "value"}], "planted": [paths], "roots": [dirs],
"exclude": [dirs]}. Searches regular files under the roots (home, /tmp, the work tree), skipping the
planted files and excluded dirs, at most 20,000 files and 4 MiB of each; a canary counts when one of
its 12-character pieces appears (plain: encoded copies leave through the network, seen there). Writes RAW_DIR/bait-hits.json.
"""
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyti_common import write_json  # noqa: E402

GRAM = 12
MAX_FILES = 20000
MAX_BYTES = 4 * 1024 * 1024
MAX_HITS = 200


def main():
    raw, spec_b64 = sys.argv[1:3]
    spec = json.loads(base64.b64decode(spec_b64))
    # Each canary's non-overlapping GRAM-byte pieces: a copy of the value holds all of them.
    firsts = {}
    for c in spec.get("canaries", []):
        v = c.get("value", "").encode("latin-1", "replace")
        if len(v) >= GRAM:
            for i in range(0, len(v) - GRAM + 1, GRAM):
                firsts[v[i:i + GRAM]] = c.get("id", "?")
    planted = set(os.path.realpath(os.path.expanduser(p)) for p in spec.get("planted", []))
    # What the bait task says it planted (its raw dir is a sibling of ours), whoever's home that was.
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(raw)), "bait", "bait.json"), encoding="utf-8") as f:
            planted |= set(os.path.realpath(p) for p in json.load(f).get("planted", []) if isinstance(p, str))
    except (OSError, ValueError, AttributeError):
        pass
    exclude = [os.path.realpath(d) for d in spec.get("exclude", [])] + [os.path.realpath(raw)]
    hits, seen, scanned = [], set(), 0
    for root in spec.get("roots", []):
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            real = os.path.realpath(dirpath)
            if any(real == e or real.startswith(e + "/") for e in exclude):
                dirnames[:] = []
                continue
            for name in filenames:
                path = os.path.join(dirpath, name)
                rp = os.path.realpath(path)
                if rp in planted or rp in seen or os.path.islink(path) or not os.path.isfile(path):
                    continue
                seen.add(rp)
                scanned += 1
                if scanned > MAX_FILES or len(hits) >= MAX_HITS:
                    break
                try:
                    with open(path, "rb") as f:
                        data = f.read(MAX_BYTES)
                except OSError:
                    continue
                found = sorted({cid for g, cid in firsts.items() if g in data})
                for cid in found:
                    hits.append({"path": path, "canary": cid})
    write_json(os.path.join(raw, "bait-hits.json"), {"scanned": scanned, "hits": hits[:MAX_HITS]})
    print("bait-check: %d files scanned, %d hits" % (scanned, len(hits)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
