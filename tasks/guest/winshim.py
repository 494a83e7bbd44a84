"""The Windows program shims (tasks/guest/winshims/*, first on the traced tasks' PATH).

Each shim records how it was called as one JSON line in $PYTI_SHIM_LOG and exits 0, running
nothing: {"shim": name, "argv": [...], "decoded": text?, "pid": n}. PowerShell's -EncodedCommand
(and its abbreviations -e, -ec, -enc, ...) is decoded from base64 UTF-16LE into `decoded`. The
generic `exe` shim is what sitecustomize runs for a `*.exe` Linux cannot run: its first argument is
the program. Lean: runs as `python3 -IBS` (no bytecode written), under strace, importing only json, base64, os, sys.
"""
import base64
import binascii
import json
import os
import sys

MAX_LOG_BYTES = 1 << 20
POWERSHELL = {"powershell", "powershell.exe", "pwsh", "pwsh.exe"}


def encoded_option(arg):
    """True for -EncodedCommand and the abbreviations PowerShell accepts (-e, -ec, -en, -enc, ...)."""
    a = arg.lower().lstrip("-/")
    if not a or a == arg.lower():
        return False
    return a in ("e", "ec") or (len(a) >= 2 and "encodedcommand".startswith(a))


def decode_powershell(args):
    """The decoded -EncodedCommand of a PowerShell command line, or None."""
    for i, arg in enumerate(args[:-1]):
        if encoded_option(arg):
            text = args[i + 1].strip()
            try:
                raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
            except (binascii.Error, ValueError):
                return None
            return raw.decode("utf-16-le", "replace")[:8000]
    return None


def main(argv):
    name = os.path.basename(argv[0])
    args = argv[1:]
    if name == "exe" and args:
        name, args = args[0], args[1:]
    entry = {"shim": name[:200], "argv": [a[:4000] for a in args[:64]], "pid": os.getpid()}
    base = os.path.basename(name.replace("\\", "/")).lower()
    if base in POWERSHELL:
        decoded = decode_powershell(args)
        if decoded is not None:
            entry["decoded"] = decoded
    log = os.environ.get("PYTI_SHIM_LOG")
    if log:
        try:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if os.fstat(fd).st_size < MAX_LOG_BYTES:
                    os.write(fd, (json.dumps(entry) + "\n").encode("utf-8", "replace"))
            finally:
                os.close(fd)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
