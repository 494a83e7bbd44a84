#!/usr/bin/env python3
"""Repackages the Python distributions of Debian binary packages (python3-*.deb) as real wheels.

    deb2wheel.py --out DIR [--split DIST==VERSION:TOP[,TOP...]]... [--requires REQ]... DEB...

For every .dist-info or .egg-info directory under the package's usr/lib/python3/dist-packages, one
wheel is written to DIR: the distribution's own files (by its RECORD, or its top_level.txt, or, when the
package holds one distribution, everything in dist-packages), a .dist-info with METADATA (an egg-info's
PKG-INFO plus requires.txt as Requires-Dist / Provides-Extra), entry_points.txt, top_level.txt, a WHEEL
file (py3-none-any, or cp3X-cp3X-linux_<arch> when it carries compiled extension modules) and a RECORD
with sha256 and sizes. `--split` makes a wheel of top-level names that have no metadata of their own in
the package (Debian's `flit` ships flit_core that way). `--requires` adds Requires-Dist lines that
Debian moved from the metadata into the package's Depends (python3-hypothesis declares neither attrs nor
sortedcontainers), unless the metadata names that distribution already. Prints one JSON line per wheel written.
Byte-compiled files, Debian's docs and /usr/bin scripts are left out (pip makes scripts from entry_points).
Runs no code from the package.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser

SITE_DIRS = ('usr/lib/python3/dist-packages', 'usr/lib/python3.11/dist-packages', 'usr/lib/python3.11/site-packages')
EXT_RE = re.compile(r'\.cpython-(\d)(\d+)-([a-z0-9_]+)-linux-gnu\.so$')


def normalize(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def wheel_name_part(name):
    return re.sub(r'[-_.]+', '_', name)


def requires_txt_to_metadata(text):
    """requires.txt (setuptools' egg-info) → (Requires-Dist values, extras)."""
    reqs, extras = [], []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        m = re.match(r'^\[(.*)\]$', line)
        if m:
            section = m.group(1)
            continue
        extra, marker = None, None
        if section:
            extra, _, marker = section.partition(':')
            extra = extra.strip() or None
            marker = marker.strip() or None
        if extra and extra not in extras:
            extras.append(extra)
        markers = []
        if marker:
            markers.append(f'({marker})' if extra else marker)
        if extra:
            markers.append(f'extra == "{extra}"')
        req = line
        if ';' in req:
            req, own = req.split(';', 1)
            markers.insert(0, f'({own.strip()})' if markers else own.strip())
        reqs.append(req.strip() + (f'; {" and ".join(markers)}' if markers else ''))
    return reqs, extras


def metadata_from_egg_info(info_dir):
    # An .egg-info may be a single file (distutils' PKG-INFO) rather than a directory.
    pkg_info = open(info_dir if os.path.isfile(info_dir) else os.path.join(info_dir, 'PKG-INFO'), encoding='utf-8', errors='surrogateescape').read()
    msg = Parser().parsestr(pkg_info, headersonly=False)
    req_path = os.path.join(info_dir, 'requires.txt')
    reqs, extras = requires_txt_to_metadata(open(req_path, encoding='utf-8').read()) if os.path.isfile(req_path) else ([], [])
    head, sep, body = pkg_info.replace('\r\n', '\n').partition('\n\n')
    lines = [l for l in head.split('\n') if not re.match(r'^(Requires-Dist|Provides-Extra|Metadata-Version):', l)]
    version = msg.get('Metadata-Version', '2.1')
    if version in ('1.0', '1.1', '1.2', '2.0'):
        version = '2.1'
    out = [f'Metadata-Version: {version}'] + lines
    out += [f'Requires-Dist: {r}' for r in reqs] + [f'Provides-Extra: {e}' for e in extras]
    return '\n'.join(out) + '\n' + ((sep + body) if body.strip() else ''), msg['Name'], msg['Version']


def top_names(info_dir):
    p = os.path.join(info_dir, 'top_level.txt')
    if os.path.isdir(info_dir) and os.path.exists(p):
        return [l.strip() for l in open(p, encoding='utf-8') if l.strip()]
    return None


def record_paths(info_dir):
    p = os.path.join(info_dir, 'RECORD')
    if not os.path.isdir(info_dir) or not os.path.exists(p):
        return None
    paths = []
    for line in open(p, encoding='utf-8'):
        path = line.rsplit(',', 2)[0] if line.count(',') >= 2 else line.strip()
        if path and not path.startswith('..') and not path.startswith('/'):
            paths.append(path)
    return paths


def entries_for_tops(site, tops):
    """The dist-packages entries (relative) that the top-level names denote."""
    found = []
    for entry in sorted(os.listdir(site)):
        base = entry.split('.', 1)[0]
        if entry in tops or base in tops or (entry.endswith('.py') and entry[:-3] in tops) or entry.rstrip('/') in tops:
            found.append(entry)
    return found


def walk_files(site, entry):
    full = os.path.join(site, entry)
    if os.path.isfile(full) or os.path.islink(full):
        return [entry]
    out = []
    for root, dirs, files in os.walk(full):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        for f in sorted(files):
            if f.endswith(('.pyc', '.pyo')):
                continue
            out.append(os.path.relpath(os.path.join(root, f), site))
    return out


def b64_sha256(data):
    return 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()


def write_wheel(out_dir, name, version, metadata, files, site, extra_info):
    """files: relative paths under site. extra_info: {filename: text} for the .dist-info."""
    tag = 'py3-none-any'
    pure = True
    for f in files:
        m = EXT_RE.search(f)
        if m or f.endswith('.so'):
            pure = False
            if m:
                py = f'cp{m.group(1)}{m.group(2)}'
                tag = f'{py}-{py}-linux_{m.group(3)}'
    if not pure and tag == 'py3-none-any':
        tag = f'cp{sys.version_info[0]}{sys.version_info[1]}-abi3-linux_x86_64'
    dist_info = f'{wheel_name_part(name)}-{version}.dist-info'
    wheel_file = f'{wheel_name_part(name)}-{version}-{tag}.whl'
    target = os.path.join(out_dir, wheel_file)
    tmp = target + '.partial'
    record = []
    with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as z:
        def add(arcname, data):
            info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
            record.append(f'{arcname},{b64_sha256(data)},{len(data)}')
        for f in files:
            full = os.path.join(site, f)
            data = open(full, 'rb').read()
            info = zipfile.ZipInfo(f, date_time=(1980, 1, 1, 0, 0, 0))
            mode = 0o755 if os.access(full, os.X_OK) and not f.endswith('.py') else 0o644
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
            record.append(f'{f},{b64_sha256(data)},{len(data)}')
        add(f'{dist_info}/METADATA', metadata.encode('utf-8', 'surrogateescape'))
        add(f'{dist_info}/WHEEL', (f'Wheel-Version: 1.0\nGenerator: pyti-deb2wheel\n'
                                   f'Root-Is-Purelib: {"true" if pure else "false"}\nTag: {tag}\n').encode())
        for fname, text in extra_info.items():
            add(f'{dist_info}/{fname}', text.encode('utf-8'))
        record.append(f'{dist_info}/RECORD,,')
        info = zipfile.ZipInfo(f'{dist_info}/RECORD', date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        z.writestr(info, '\n'.join(record) + '\n')
    os.replace(tmp, target)
    return {'wheel': wheel_file, 'name': name, 'version': version, 'tag': tag, 'files': len(files)}


def add_requires(metadata, requires):
    head, sep, body = metadata.replace('\r\n', '\n').partition('\n\n')
    have = {normalize(re.split(r'[\s;<>=!~\[(]', l.split(':', 1)[1].strip())[0])
            for l in head.split('\n') if l.startswith('Requires-Dist:') and 'extra ==' not in l}
    add = [r for r in requires if normalize(re.split(r'[\s;<>=!~\[(]', r)[0]) not in have]
    if not add:
        return metadata
    return head.rstrip('\n') + '\n' + ''.join(f'Requires-Dist: {r}\n' for r in add) + (sep + body if sep else '')


def convert(deb, out_dir, splits, requires=()):
    work = tempfile.mkdtemp(prefix='deb2wheel-')
    try:
        subprocess.run(['dpkg-deb', '-x', deb, work], check=True)
        site = next((os.path.join(work, d) for d in SITE_DIRS if os.path.isdir(os.path.join(work, d))), None)
        if site is None:
            raise SystemExit(f'deb2wheel: {deb}: no Python dist-packages directory')
        infos = sorted(e for e in os.listdir(site) if e.endswith(('.dist-info', '.egg-info')))
        claimed = set(infos)
        plans = []
        for info in infos:
            d = os.path.join(site, info)
            if info.endswith('.dist-info'):
                metadata = open(os.path.join(d, 'METADATA'), encoding='utf-8', errors='surrogateescape').read()
                msg = Parser().parsestr(metadata, headersonly=True)
                name, version = msg['Name'], msg['Version']
            else:
                metadata, name, version = metadata_from_egg_info(d)
            rec = record_paths(d)
            if rec is not None:
                files = [p for p in rec if not p.startswith(info + '/') and '__pycache__' not in p
                         and not p.endswith(('.pyc', '.pyo')) and os.path.isfile(os.path.join(site, p))]
            else:
                tops = top_names(d)
                entries = entries_for_tops(site, tops) if tops else None
                files = None if entries is None else [f for e in entries for f in walk_files(site, e)]
            plans.append([d, name, version, add_requires(metadata, requires) if requires else metadata, files])
        for _, _, _, _, files in plans:
            for f in files or []:
                claimed.add(f.split('/', 1)[0])
        split_tops = {t for s in splits for t in s[2]}
        unclaimed = [e for e in sorted(os.listdir(site)) if e not in claimed and e != '__pycache__' and e.split('.', 1)[0] not in split_tops]
        for plan in plans:
            if plan[4] is None:
                plan[4] = [f for e in (unclaimed if len(plans) == 1 else []) for f in walk_files(site, e)]
        results = []
        for d, name, version, metadata, files in plans:
            extra = {}
            for fname in ('entry_points.txt', 'top_level.txt'):
                p = os.path.join(d, fname)
                if os.path.isfile(p):
                    extra[fname] = open(p, encoding='utf-8').read()
            files = [f for f in files if f.split('/', 1)[0].split('.', 1)[0] not in split_tops or f.split('/', 1)[0].endswith(('.dist-info', '.egg-info'))]
            results.append(write_wheel(out_dir, name, version, metadata, files, site, extra))
        for sname, sversion, tops in splits:
            entries = entries_for_tops(site, set(tops))
            if not entries:
                continue
            files = [f for e in entries for f in walk_files(site, e)]
            metadata = f'Metadata-Version: 2.1\nName: {sname}\nVersion: {sversion}\nSummary: {sname} (from {os.path.basename(deb)})\n'
            results.append(write_wheel(out_dir, sname, sversion, metadata, files, site, {'top_level.txt': '\n'.join(tops) + '\n'}))
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', required=True)
    ap.add_argument('--split', action='append', default=[], help='DIST==VERSION:TOP[,TOP...]')
    ap.add_argument('--requires', action='append', default=[], help='a Requires-Dist to add (Debian moved it to Depends)')
    ap.add_argument('debs', nargs='+')
    a = ap.parse_args()
    splits = []
    for s in a.split:
        m = re.match(r'^([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+!-]+):([A-Za-z0-9_,]+)$', s)
        if not m:
            ap.error(f'--split {s}: expected DIST==VERSION:TOP[,TOP...]')
        splits.append((m.group(1), m.group(2), m.group(3).split(',')))
    os.makedirs(a.out, exist_ok=True)
    for deb in a.debs:
        for r in convert(deb, a.out, splits, a.requires):
            r['deb'] = os.path.basename(deb)
            print(json.dumps(r), flush=True)


if __name__ == '__main__':
    main()
