"""Task `inspect`: unpack the distribution and describe it.

Usage: inspect_dist.py DIST SOURCE_DIR META_DIR RAW_DIR
Writes inspect.json into META_DIR (for later tasks) and RAW_DIR (for the host). Exit 2 for a malformed or unsafe archive, 3 for missing metadata.
"""
import email.parser
import os
import stat
import sys
import tarfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyti_common import find_modules, normalize, write_json  # noqa: E402

MAX_MEMBERS = 50000
MAX_TOTAL = 1 << 30


def fail(code, message, raw):
    write_json(os.path.join(raw, "inspect.json"), {"error": message})
    print("inspect: " + message, file=sys.stderr)
    sys.exit(code)


def safe_name(name):
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        return None
    return "/".join(parts)


def extract_sdist(path, dest, raw):
    with tarfile.open(path) as tf:
        members = tf.getmembers()
        if len(members) > MAX_MEMBERS:
            fail(2, "archive has too many members", raw)
        total = 0
        for m in members:
            name = safe_name(m.name)
            if name is None:
                fail(2, "unsafe path in archive: %r" % m.name, raw)
            if m.issym() or m.islnk() or not (m.isfile() or m.isdir()):
                continue  # links and devices are never extracted
            total += m.size
            if total > MAX_TOTAL:
                fail(2, "archive expands beyond %d bytes" % MAX_TOTAL, raw)
            parts = name.split("/", 1)
            if len(parts) < 2 or not parts[1]:
                continue
            target = os.path.join(dest, parts[1])
            if m.isdir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with tf.extractfile(m) as src, open(target, "wb") as out:
                out.write(src.read())
            os.chmod(target, 0o755 if m.mode & stat.S_IXUSR else 0o644)


def extract_wheel(path, dest, raw, strip_top=False):
    """Extracts a zip (a wheel, or with strip_top a legacy zip sdist without its top directory)."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            fail(2, "archive has too many members", raw)
        if sum(i.file_size for i in infos) > MAX_TOTAL:
            fail(2, "archive expands beyond %d bytes" % MAX_TOTAL, raw)
        for i in infos:
            name = safe_name(i.filename)
            if name is None:
                fail(2, "unsafe path in archive: %r" % i.filename, raw)
            if strip_top:
                name = name.split("/", 1)[1] if "/" in name else ""
            if i.is_dir() or not name:
                continue
            target = os.path.join(dest, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with zf.open(i) as src, open(target, "wb") as out:
                out.write(src.read(MAX_TOTAL))


def read_metadata(path):
    """PKG-INFO/METADATA as str values. Parsed as text: the bytes parser turns a non-ASCII value
    (an accented author) into an email.header.Header, which json cannot write; CRLF ends lines too."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    msg = email.parser.Parser().parsestr(text, headersonly=True)

    def get(key):
        v = msg.get(key)
        return None if v is None else str(v)
    return {
        "name": get("Name"),
        "version": get("Version"),
        "summary": get("Summary"),
        "requires_python": get("Requires-Python"),
        "requires_dist": [str(v) for v in msg.get_all("Requires-Dist") or []],
        "license": get("License"),
        "metadata_version": get("Metadata-Version"),
    }


def main():
    dist, source, meta_dir, raw = sys.argv[1:5]
    info = {"filename": os.path.basename(dist), "size": os.path.getsize(dist)}
    try:
        if dist.endswith(".whl"):
            info["kind"] = "wheel"
            extract_wheel(dist, source, raw)
            meta_files = [os.path.join(source, d, "METADATA") for d in os.listdir(source) if d.endswith(".dist-info")]
        elif dist.endswith((".tar.gz", ".tgz", ".zip")):
            info["kind"] = "sdist"
            if dist.endswith(".zip"):
                extract_wheel(dist, source, raw, strip_top=True)
            else:
                extract_sdist(dist, source, raw)
            meta_files = [os.path.join(source, "PKG-INFO")]
        else:
            fail(2, "not a wheel or an sdist (.tar.gz, .zip): %s" % info["filename"], raw)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        fail(2, "malformed archive: %s" % e, raw)
    meta_files = [m for m in meta_files if os.path.isfile(m)]
    if not meta_files:
        fail(3, "missing metadata (PKG-INFO or *.dist-info/METADATA)", raw)
    info.update(read_metadata(meta_files[0]))
    if not info.get("name") or not info.get("version"):
        fail(3, "metadata lacks Name or Version", raw)
    info["normalized_name"] = normalize(info["name"])
    files = []
    for base, dirs, names in os.walk(source):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", ".git")]
        for n in names:
            files.append(os.path.relpath(os.path.join(base, n), source))
    files.sort()
    info["file_count"] = len(files)
    info["files"] = files[:2000]
    info["has_setup_py"] = "setup.py" in files
    info["has_pyproject"] = "pyproject.toml" in files
    info["c_sources"] = [f for f in files if f.endswith((".c", ".cpp", ".cc", ".pyx"))][:200]
    info["modules"] = [os.path.relpath(m, source) for m in find_modules(source)]
    info["test_paths"] = sorted({f.split("/")[0] for f in files
                                 if f.split("/")[0] in ("tests", "test", "testing")
                                 or (("/" not in f) and f.startswith("test_") and f.endswith(".py"))})
    build_system = {}
    if info["has_pyproject"]:
        try:
            import tomllib
            with open(os.path.join(source, "pyproject.toml"), "rb") as f:
                build_system = tomllib.load(f).get("build-system", {})
        except Exception as e:  # a broken pyproject is the build task's problem to report
            info["pyproject_error"] = str(e)
    info["build_requires"] = build_system.get("requires", ["setuptools>=40.8.0", "wheel"])
    info["build_backend"] = build_system.get("build-backend", "setuptools.build_meta:__legacy__")
    write_json(os.path.join(raw, "inspect.json"), info)
    write_json(os.path.join(meta_dir, "inspect.json"), info)
    print("inspect: %s %s (%s), %d files, modules: %s" % (
        info["name"], info["version"], info["kind"], len(files), ", ".join(info["modules"]) or "-"))


if __name__ == "__main__":
    main()
