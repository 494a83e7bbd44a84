"""Task `inspect`: unpack the distribution and describe it.

Usage: inspect_dist.py DIST SOURCE_DIR META_DIR RAW_DIR
Writes inspect.json into META_DIR (for later tasks) and RAW_DIR (for the host). Exit 2 for a malformed or unsafe archive, 3 for missing metadata.
"""
import os
import re
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


MAX_DESCRIPTION = 64 * 1024
MAX_VALUE = 2000
MAX_LIST = 500
MULTI = {"classifier", "requires-dist", "project-url", "provides-extra", "platform", "supported-platform",
         "dynamic", "license-file", "requires-external", "provides-dist", "obsoletes-dist"}
KEEP_LINES = {"description", "license"}  # folded lines of these keep their line breaks


def decode_metadata(data):
    """Core metadata bytes as text: UTF-8 (a BOM dropped), else latin-1 (old PKG-INFO files)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def parse_metadata(data):
    """Every core-metadata field (PKG-INFO / METADATA, RFC 822 style) as plain str/list values.
    Any encoding (UTF-8, else latin-1), CRLF or CR line ends, folded continuation lines, the
    Description as the body or as a header (setuptools' `        |` continuation prefix removed).
    Parsed by hand: email's parser turns a non-ASCII value into an email.header.Header, which json
    cannot write. Values are capped (MAX_VALUE, MAX_DESCRIPTION, MAX_LIST)."""
    text, encoding = decode_metadata(data[:4 << 20])
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    headers, body_at = [], len(lines)
    for i, line in enumerate(lines):
        if line == "" or (line.strip() == "" and not headers):
            body_at = i + 1
            break
        if line[:1] in (" ", "\t") and headers:
            key, value = headers[-1]
            if len(value) > MAX_DESCRIPTION * 2:
                continue
            if key in KEEP_LINES:
                cont = re.sub(r"^ {1,8}\|?", "", line) if key == "description" else line.strip()
                headers[-1] = (key, value + "\n" + cont)
            else:
                headers[-1] = (key, (value + " " + line.strip()).strip())
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            headers.append((key.strip().lower(), value.strip()))
    body = "\n".join(lines[body_at:]).strip("\n")

    def get(key, cap=MAX_VALUE):
        for k, v in headers:
            if k == key:
                v = v.strip()
                return v[:cap] if v and v.upper() != "UNKNOWN" else None
        return None

    def get_all(key):
        return [v.strip()[:MAX_VALUE] for k, v in headers if k == key and v.strip()][:MAX_LIST]

    description = body if body.strip() else (get("description", MAX_DESCRIPTION * 2) or "")
    keywords = get("keywords")
    urls = []
    for v in get_all("project-url"):
        label, _, url = v.partition(",")
        urls.append({"label": label.strip()[:200], "url": url.strip()[:MAX_VALUE]} if url else {"label": "", "url": label.strip()})
    info = {
        "metadata_version": get("metadata-version"),
        "metadata_encoding": encoding,
        "name": get("name", 200),
        "version": get("version", 100),
        "summary": get("summary", 1000),
        "description": description[:MAX_DESCRIPTION] or None,
        "description_truncated": len(description) > MAX_DESCRIPTION,
        "description_content_type": get("description-content-type", 200),
        "author": get("author"),
        "author_email": get("author-email"),
        "maintainer": get("maintainer"),
        "maintainer_email": get("maintainer-email"),
        "license": get("license", 20000),
        "license_expression": get("license-expression"),
        "license_files": get_all("license-file"),
        "keywords": [k for k in re.split(r"[,\s]+" if "," not in (keywords or "") else r"\s*,\s*", keywords or "") if k][:100],
        "home_page": get("home-page"),
        "download_url": get("download-url"),
        "project_urls": urls,
        "classifiers": get_all("classifier"),
        "platforms": [p for p in get_all("platform") if p.upper() != "UNKNOWN"],
        "requires_dist": get_all("requires-dist"),
        "requires_python": get("requires-python", 200),
        "requires_external": get_all("requires-external"),
        "provides_extra": get_all("provides-extra"),
        "dynamic": get_all("dynamic"),
    }
    return info


def read_metadata(path):
    """parse_metadata of the file at path."""
    with open(path, "rb") as f:
        return parse_metadata(f.read())


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
    if isinstance(build_system.get("backend-path"), list):
        info["backend_path"] = [p for p in build_system["backend-path"] if isinstance(p, str)][:20]
    write_json(os.path.join(raw, "inspect.json"), info)
    write_json(os.path.join(meta_dir, "inspect.json"), info)
    print("inspect: %s %s (%s), %d files, modules: %s" % (
        info["name"], info["version"], info["kind"], len(files), ", ".join(info["modules"]) or "-"))


if __name__ == "__main__":
    main()
