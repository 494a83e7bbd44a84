"""The host's install plan in the guest: which wheels to install (no resolver runs in the guest), checked
before anything is installed. Run by the image's python3 (packaging is in the image).

The plan, {input}/pyti-install-plan.json, is written by the host (slave/src/prefetch/install-plan.ts):
  {"source": "prefetch"|"wheelhouse", "runtime": [{"filename", "sha256"}...],
   "test": [{"filename", "sha256"}...] or null, "notes": [str...],
   "build": {"requires": [str...], "wheels": [{"filename", "sha256"}...]} or null (absent: null)}
`runtime`: the wheels besides the package's own that its install needs; `test`: the extra wheels of the
test environment (null: the host did not resolve it; the test task's pip then does, as before);
`build`: the wheels an sdist's isolated build environment is made of (its build requirements as the
host resolved them, plus what the backend's get_requires_for_build_wheel is known to add; see
pyti_build_env.py), null when not resolved (the build task's `python -m build` and pip then do).
Every wheel named must be in the wheelhouse with that sha256 (else PlanError: the host's and the
guest's views disagree). The plan is untrusted input like any file: its shape is checked here.

What is installed is the closure of the requirements over the planned wheels (one wheel per project:
no choice is made, so no resolver): every Requires-Dist of the package's own wheel (markers evaluated
for this interpreter, extras followed), then theirs. A requirement the planned set cannot meet is
`missing`; the caller decides between install-fail:deps and pip's resolver (when the wheelhouse has the
project at all: dynamic dependencies the host's static metadata did not show).
"""
import email.parser
import hashlib
import json
import os
import platform
import re
import zipfile

PLAN_FILE = "pyti-install-plan.json"
MAX_PLAN_BYTES = 1 << 20
MAX_WHEELS = 2000
MAX_METADATA = 4 << 20
SHA256 = re.compile(r"^[0-9a-f]{64}$")
WHEEL_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+!-]{0,254}\.whl$")


class PlanError(Exception):
    """The plan is malformed, or names a wheel the wheelhouse does not have with that hash."""


def normalize(name):
    """PEP 503 name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheels(value, what):
    if not isinstance(value, list) or len(value) > MAX_WHEELS:
        raise PlanError("%s: not a list of at most %d wheels" % (what, MAX_WHEELS))
    out = []
    for w in value:
        if not (isinstance(w, dict) and isinstance(w.get("filename"), str) and WHEEL_FILE.match(w["filename"])
                and isinstance(w.get("sha256"), str) and SHA256.match(w["sha256"])):
            raise PlanError("%s: an entry is not {filename: a wheel's file name, sha256: 64 hex digits}" % what)
        out.append({"filename": w["filename"], "sha256": w["sha256"]})
    return out


def read_plan(path):
    """The plan at `path`, shape-checked: {source, runtime, test (list or None), notes}; None when there is
    no such file (a host that wrote none: the caller uses pip as before). Raises PlanError."""
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_PLAN_BYTES + 1)
        if len(data) > MAX_PLAN_BYTES:
            raise PlanError("the install plan is larger than %d bytes" % MAX_PLAN_BYTES)
        doc = json.loads(data.decode("utf-8"))
    except (OSError, ValueError) as e:
        raise PlanError("the install plan is not readable JSON: %s" % e) from None
    if not isinstance(doc, dict) or doc.get("source") not in ("prefetch", "wheelhouse"):
        raise PlanError("the install plan is not an object with source prefetch or wheelhouse")
    test = doc.get("test")
    notes = doc.get("notes") or []
    return {
        "source": doc["source"],
        "runtime": _wheels(doc.get("runtime"), "runtime"),
        "test": None if test is None else _wheels(test, "test"),
        "build": _build(doc.get("build")),
        "notes": [n[:500] for n in notes if isinstance(n, str)][:50] if isinstance(notes, list) else [],
    }


def _build(value):
    """The plan's build environment: None (not planned), or {requires: [str], wheels: [...]}."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PlanError("build: not an object {requires, wheels}")
    requires = value.get("requires")
    if not (isinstance(requires, list) and len(requires) <= 500 and all(isinstance(r, str) and len(r) <= 500 for r in requires)):
        raise PlanError("build.requires: not a list of at most 500 requirement strings")
    return {"requires": list(requires), "wheels": _wheels(value.get("wheels"), "build.wheels")}


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Dist:
    """One distribution that is or will be installed: name, version, Requires-Dist, Requires-Python."""

    def __init__(self, name, version, requires, requires_python, path=None, filename=None):
        self.name, self.version, self.requires, self.requires_python = name, version, requires, requires_python
        self.key = normalize(name)
        self.path, self.filename = path, filename

    def as_json(self):
        return {"name": self.name[:200], "version": self.version[:100]}


def _parse_metadata(data, where):
    msg = email.parser.BytesParser().parsebytes(data, headersonly=True)
    name, version = msg.get("Name"), msg.get("Version")
    if not name or not version:
        raise PlanError("%s: its metadata has no Name or Version" % where)
    return str(name).strip(), str(version).strip(), [str(r) for r in msg.get_all("Requires-Dist") or []], msg.get("Requires-Python")


def wheel_dist(path):
    """The Dist of a wheel file, from its .dist-info/METADATA."""
    try:
        with zipfile.ZipFile(path) as z:
            names = [i for i in z.infolist() if re.match(r"^[^/]+\.dist-info/METADATA$", i.filename)]
            if len(names) != 1 or names[0].file_size > MAX_METADATA:
                raise PlanError("%s: not one .dist-info/METADATA of a sane size" % os.path.basename(path))
            data = z.read(names[0])
    except (OSError, zipfile.BadZipFile) as e:
        raise PlanError("%s: not a readable wheel: %s" % (os.path.basename(path), e)) from None
    name, version, requires, rp = _parse_metadata(data, os.path.basename(path))
    return Dist(name, version, requires, rp, path=path, filename=os.path.basename(path))


def installed_dists(site_packages):
    """The distributions installed in a site-packages, by normalized name (from their .dist-info)."""
    out = {}
    try:
        names = os.listdir(site_packages)
    except OSError:
        return out
    for n in names:
        if not n.endswith(".dist-info"):
            continue
        try:
            with open(os.path.join(site_packages, n, "METADATA"), "rb") as f:
                name, version, requires, rp = _parse_metadata(f.read(MAX_METADATA), n)
        except (OSError, PlanError):
            continue
        d = Dist(name, version, requires, rp)
        d.dist_info = os.path.join(site_packages, n)
        out[d.key] = d
    return out


def planned_dists(wheelhouse, wheels):
    """The Dists of the planned wheels, each checked against the host's sha256. Raises PlanError."""
    out = {}
    for w in wheels:
        path = os.path.join(wheelhouse, w["filename"])
        if not os.path.isfile(path):
            raise PlanError("the host planned %s, which is not in the wheelhouse" % w["filename"])
        got = sha256_of(path)
        if got != w["sha256"]:
            raise PlanError("%s in the wheelhouse has sha256 %s, not %s as the host resolved" % (w["filename"], got, w["sha256"]))
        d = wheel_dist(path)
        if d.key in out:
            raise PlanError("the host planned two wheels of %s (%s, %s)" % (d.name, out[d.key].filename, d.filename))
        out[d.key] = d
    return out


def wheelhouse_projects(wheelhouse):
    """Normalized project names of the wheels and sdists in the wheelhouse."""
    names = set()
    try:
        files = os.listdir(wheelhouse)
    except OSError:
        return names
    for f in files:
        if f.endswith(".whl"):
            names.add(normalize(f.split("-")[0]))
        elif f.endswith((".tar.gz", ".zip")):
            names.add(normalize(re.sub(r"-[0-9][^-]*$", "", f.rsplit(".tar.gz", 1)[0].rsplit(".zip", 1)[0])))
    return names


def _applies(req, extras):
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": e}) for e in ([""] + sorted(extras)))


def _shown(req):
    return req.name + ("[%s]" % ",".join(sorted(req.extras)) if req.extras else "") + str(req.specifier)


def closure(roots, candidates):
    """What installing `roots` (requirement strings, or Dists whose Requires-Dist count) needs from
    `candidates` (normalized name -> Dist, or a list of Dists in order of preference: the first that
    meets the first requirement on the project is taken, no backtracking): (the Dists needed,
    dependencies first; the requirements no candidate meets, as `name[extras]specifier`; problems with
    Requires-Python)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    python = platform.python_version()
    order, missing, problems, done, chosen = [], [], [], set(), {}

    def check_python(d):
        if d.requires_python:
            try:
                ok = SpecifierSet(d.requires_python).contains(python, prereleases=True)
            except InvalidSpecifier:
                ok = True  # pip ignores an unparsable Requires-Python too
            if not ok:
                problems.append("%s %s requires Python %s; the guest has %s" % (d.name, d.version, d.requires_python, python))

    def need(req_text, extras_of_parent):
        try:
            req = Requirement(req_text)
        except InvalidRequirement:
            problems.append("unparsable requirement %r" % req_text[:200])
            return
        if not _applies(req, extras_of_parent):
            return
        key = normalize(req.name)
        options = [chosen[key]] if key in chosen else candidates.get(key) or []
        if isinstance(options, Dist):
            options = [options]
        d = next((o for o in options if req.specifier.contains(o.version, prereleases=True)), None)
        if d is None:
            shown = _shown(req)
            if shown not in missing:
                missing.append(shown)
            return
        chosen[key] = d
        visit(d, set(req.extras))

    def visit(d, extras):
        chosen.setdefault(d.key, d)
        key = (d.key, frozenset(extras))
        if key in done:
            return
        done.add(key)
        for r in d.requires:
            need(r, extras)
        if d not in order:
            check_python(d)
            order.append(d)

    for root in roots:
        if isinstance(root, Dist):
            visit(root, set())
        else:
            need(root, set())
    return order, missing, problems


def uninstall(dist, venv):
    """Removes an installed distribution (its RECORD's files inside `venv`, then its .dist-info), before
    the planned wheel of another version of it is installed (the test environment's co-resolution)."""
    info = getattr(dist, "dist_info", None)
    if not info:
        return
    site = os.path.dirname(info)
    root = os.path.realpath(venv) + os.sep
    try:
        with open(os.path.join(info, "RECORD"), encoding="utf-8", errors="replace") as f:
            rows = [line.split(",")[0] for line in f if line.strip()]
    except OSError:
        rows = []
    for rel in rows:
        path = os.path.realpath(os.path.join(site, rel))
        if path.startswith(root) and os.path.isfile(path):
            os.remove(path)
    import shutil
    shutil.rmtree(info, ignore_errors=True)
