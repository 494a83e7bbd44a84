/**
 * Obtains PyTI's real-world corpus (test/corpus/corpus.json) into a directory outside the repository
 * (default ~/.cache/pyti/corpus), offline from PyPI:
 *
 * - the members' sdists: Debian 12 source packages' orig tarballs (`apt-get source --download-only`
 *   with a private apt configuration that adds deb-src for bookworm from the host's own mirror), taken
 *   as they are when they are PyPI's sdist, otherwise unpacked and built into an sdist; or upstream
 *   repositories at the release tag (mirrors brought by the search tool's `fetch`, /work/.mirror or
 *   `mirrors`), `git archive`d and built into an sdist;
 * - a wheelhouse of their runtime and test dependencies and build backends: Debian's python3-* binary
 *   packages repackaged as wheels (deb2wheel.py), Debian's python3-*-whl wheels, and wheels built from
 *   fetched repositories (`pip wheel --no-deps --no-build-isolation`).
 *
 * Every build (sdists, wheels) runs with the guest image's Python inside bubblewrap without network
 * (runInGuest), in a build venv made from the wheelhouse. Results are cached: a second run only does
 * what is missing. Nothing here is committed.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { cacheRoot } from '@pyti/images';
import { runInGuest } from '@pyti/slave';

/** A corpus member (one entry of corpus.json's `members`). */
export interface CorpusMember {
  name: string;
  version: string;
  source: { debian?: string; github?: string; tag?: string };
  /** The Debian orig tarball is the PyPI sdist itself. */
  sdist?: boolean;
  /** The version comes from SCM (setuptools_scm, hatch-vcs, pdm): pretend it when building. */
  scm?: boolean;
  /**
   * Upstream's sdist was made by `flit build`, which adds every file git tracks (flit_core alone
   * ships only the package): the built sdist gets every file of the tag's tree too, less
   * `[tool.flit.sdist] exclude`.
   */
  vcsSdist?: boolean;
  /** Cython runs before the sdist is built (arguments of `python -m cython`, e.g. `-3 --cplus pkg/_x.pyx`). */
  cythonize?: string[];
  kinds: string[];
  tests: string;
}

/** corpus.json. */
export interface CorpusManifest {
  schema: number;
  members: CorpusMember[];
  wheelhouse: {
    debs: string[];
    pythonWheels: string[];
    github: { name: string; version: string; repo: string; tag: string; scm?: boolean }[];
  };
  /** The members CI obtains (Debian's source packages). */
  ci: string[];
}

/** One sdist the corpus directory holds. */
export interface ObtainedMember {
  name: string;
  version: string;
  file: string;
  sha256: string;
  source: string;
}

/** What obtainCorpus did. */
export interface ObtainResult {
  dir: string;
  sdistDir: string;
  wheelhouse: string;
  members: ObtainedMember[];
  /** Members (and wheelhouse parts) that could not be obtained, with why. */
  skipped: { name: string; reason: string }[];
}

export interface ObtainOptions {
  /** The corpus directory. Default: corpusDir(). */
  dir?: string;
  /** The guest root filesystem (requireRootfs().path). */
  rootfs: string;
  /** Only these members (normalized names). */
  only?: string[];
  /** Where fetched repositories are (OWNER+REPO/repo). Default /work/.mirror. */
  mirrors?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** PEP 503 normalization. */
export const normalizeName = (n: string): string => n.toLowerCase().replace(/[-_.]+/g, '-');

/** The manifest in test/corpus/corpus.json. */
export function loadManifest(): CorpusManifest {
  const path = new URL('../../corpus/corpus.json', import.meta.url).pathname;
  return JSON.parse(readFileSync(path, 'utf8')) as CorpusManifest;
}

/** The default corpus directory: $PYTI_CORPUS_DIR or <pyti cache>/corpus. */
export function corpusDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PYTI_CORPUS_DIR || join(cacheRoot(env), 'corpus');
}

const DEB2WHEEL = new URL('./deb2wheel.py', import.meta.url).pathname.replace(/\/dist\/corpus\//, '/src/corpus/');

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env, encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ code: err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0, stdout, stderr }));
  });
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const tail = (s: string, n = 1500): string => (s.length > n ? `…${s.slice(-n)}` : s).trim();

/** The Debian mirror the host's apt uses (read from its own configuration, never hard-coded). */
export function hostDebianMirror(): string | null {
  const files: string[] = [];
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  if (existsSync('/etc/apt/sources.list.d')) {
    for (const f of readdirSync('/etc/apt/sources.list.d')) if (/\.(list|sources)$/.test(f)) files.push(join('/etc/apt/sources.list.d', f));
  }
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/^\s*URIs:\s*(\S+)/gm)) if (!/security/.test(m[1]!)) return m[1]!.replace(/\/$/, '');
    for (const m of text.matchAll(/^\s*deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/gm)) return m[1]!.replace(/\/$/, '');
  }
  return null;
}

/** apt with a private configuration under `aptDir` (its own lists and caches; deb + deb-src for bookworm). */
export class PrivateApt {
  constructor(readonly aptDir: string) {}

  private opts(): string[] {
    const d = this.aptDir;
    return ['-o', `Dir::Etc::SourceList=${d}/etc/sources.list`, '-o', 'Dir::Etc::SourceParts=/nonexistent', '-o', `Dir::State::Lists=${d}/lists`,
      '-o', `Dir::Cache=${d}/cache`, '-o', 'APT::Sandbox::User=root', '-o', 'Debug::NoLocking=1', '-q'];
  }

  /** Writes the configuration and runs `apt-get update` when the lists are missing or older than a day. */
  async update(log: (l: string) => void): Promise<void> {
    const d = this.aptDir;
    for (const sub of ['etc', 'lists/partial', 'cache/archives/partial']) mkdirSync(join(d, sub), { recursive: true });
    const mirror = hostDebianMirror();
    if (!mirror) throw new Error('no Debian mirror in the host apt configuration (/etc/apt/sources.list*)');
    writeFileSync(join(d, 'etc/sources.list'), `deb ${mirror} bookworm main\ndeb-src ${mirror} bookworm main\n`);
    const stamp = join(d, 'lists/.updated');
    if (existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < 86_400_000) return;
    log('apt-get update (private configuration with deb-src for bookworm)');
    const r = await run('apt-get', [...this.opts(), 'update']);
    if (r.code !== 0) throw new Error(`apt-get update failed: ${tail(r.stderr)}`);
    writeFileSync(stamp, new Date().toISOString());
  }

  /** `apt-get source --download-only PKG` into `dest`: the orig tarball's path, or an error text. */
  async source(pkg: string, dest: string): Promise<{ orig?: string; error?: string }> {
    mkdirSync(dest, { recursive: true });
    const find = (): string | undefined => readdirSync(dest).find((f) => f.startsWith(`${pkg}_`) && /\.orig\.tar\.(gz|xz|bz2)$/.test(f));
    const have = find();
    if (have) return { orig: join(dest, have) };
    const r = await run('apt-get', [...this.opts(), 'source', '--download-only', pkg], { cwd: dest });
    const got = find();
    if (got) return { orig: join(dest, got) };
    return { error: tail(r.stderr || r.stdout, 400) || `apt-get source ${pkg} gave no orig tarball` };
  }

  /** `apt-get download PKG` into `dest`: the .deb's path, or an error text. */
  async download(pkg: string, dest: string): Promise<{ deb?: string; error?: string }> {
    mkdirSync(dest, { recursive: true });
    const find = (): string | undefined => readdirSync(dest).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    const have = find();
    if (have) return { deb: join(dest, have) };
    const r = await run('apt-get', [...this.opts(), 'download', pkg], { cwd: dest });
    const got = find();
    if (got) return { deb: join(dest, got) };
    return { error: tail(r.stderr || r.stdout, 400) || `apt-get download ${pkg} gave no .deb` };
  }
}

/** The directory inside the guest where the corpus directory is bound (read-write; under the guest's /tmp tmpfs, since the root filesystem is read-only). */
const G = '/tmp/corpus';

/** Runs a bash script in the guest with the corpus directory at /tmp/corpus (rw), no network. */
async function guestSh(rootfs: string, dir: string, script: string, opts: { env?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal; cwd?: string } = {}) {
  return runInGuest(['bash', '-c', script], {
    rootfs, binds: [{ host: dir, guest: G, rw: true }], env: { PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONDONTWRITEBYTECODE: '1', ...opts.env },
    timeoutMs: opts.timeoutMs ?? 1_200_000, signal: opts.signal, cwd: opts.cwd, maxOutputBytes: 256 * 1024,
  });
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The tarball's top directory (first member's first path part). */
async function topDir(tarball: string): Promise<string> {
  const r = await run('tar', ['-tf', tarball]);
  return (r.stdout.split('\n')[0] ?? '').split('/')[0] ?? '';
}

/**
 * Obtains the corpus (or `only` members of it) into `dir`: see the module comment. Never throws for
 * one member's failure: it is in `skipped` with its reason.
 */
export async function obtainCorpus(opts: ObtainOptions): Promise<ObtainResult> {
  const manifest = loadManifest();
  const dir = opts.dir ?? corpusDir();
  const log = opts.log ?? (() => undefined);
  const mirrors = opts.mirrors ?? '/work/.mirror';
  const sdistDir = join(dir, 'sdists');
  const wheelhouse = join(dir, 'wheelhouse');
  const srcDir = join(dir, 'src');
  for (const d of [sdistDir, wheelhouse, srcDir, join(dir, 'debs'), join(dir, 'build-logs')]) mkdirSync(d, { recursive: true });
  const skipped: ObtainResult['skipped'] = [];
  const apt = new PrivateApt(join(dir, 'apt'));
  await apt.update(log);

  // 1. Wheelhouse from Debian binary packages.
  for (const pkg of manifest.wheelhouse.pythonWheels) {
    const marker = join(dir, 'debs', `${pkg}.done`);
    if (existsSync(marker)) continue;
    const got = await apt.download(pkg, join(dir, 'debs'));
    if (!got.deb) {
      skipped.push({ name: pkg, reason: `apt-get download: ${got.error}` });
      continue;
    }
    const x = join(dir, 'debs', `${pkg}.x`);
    rmSync(x, { recursive: true, force: true });
    await run('dpkg-deb', ['-x', got.deb, x]);
    const whlDir = join(x, 'usr/share/python-wheels');
    for (const f of existsSync(whlDir) ? readdirSync(whlDir) : []) if (f.endsWith('.whl')) copyFileSync(join(whlDir, f), join(wheelhouse, f));
    rmSync(x, { recursive: true, force: true });
    writeFileSync(marker, '');
  }
  const converted = new Map<string, { deb: string; dists: string[] }>();
  const debOf = (pkg: string): string | undefined => readdirSync(join(dir, 'debs')).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  for (const pkg of manifest.wheelhouse.debs) {
    const marker = join(dir, 'debs', `${pkg}.done`);
    if (existsSync(marker)) {
      const deb = debOf(pkg);
      if (deb) converted.set(pkg, { deb: join(dir, 'debs', deb), dists: readFileSync(marker, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { name: string }).name) });
      continue;
    }
    const got = await apt.download(pkg, join(dir, 'debs'));
    if (!got.deb) {
      skipped.push({ name: pkg, reason: `apt-get download: ${got.error}` });
      continue;
    }
    const r = await run('python3', [DEB2WHEEL, '--out', wheelhouse, got.deb]);
    if (r.code !== 0 || !r.stdout.trim()) {
      skipped.push({ name: pkg, reason: `deb2wheel: ${tail(r.stderr, 400) || 'no Python distribution in the package'}` });
      continue;
    }
    log(`wheelhouse: ${pkg} → ${r.stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { wheel: string }).wheel).join(', ')}`);
    writeFileSync(marker, r.stdout);
    converted.set(pkg, { deb: got.deb, dists: r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { name: string }).name) });
  }
  // Debian moves some requirements from the metadata into Depends (python3-hypothesis: attrs,
  // sortedcontainers): put those that name a package of this wheelhouse back as Requires-Dist.
  for (const [pkg, { deb, dists }] of converted) {
    const marker = join(dir, 'debs', `${pkg}.requires`);
    if (existsSync(marker)) continue;
    const depends = (await run('dpkg-deb', ['-f', deb, 'Depends'])).stdout;
    const wanted = [...new Set([...depends.matchAll(/(?:^|[,|]\s*)([a-z0-9][a-z0-9.+-]*)/g)].map((x) => x[1]!))]
      .filter((d) => d !== pkg && converted.has(d)).flatMap((d) => converted.get(d)!.dists).filter((n) => !dists.includes(n));
    if (wanted.length) {
      const r = await run('python3', [DEB2WHEEL, '--out', wheelhouse, ...wanted.flatMap((w) => ['--requires', w]), deb]);
      if (r.code !== 0) skipped.push({ name: pkg, reason: `deb2wheel --requires: ${tail(r.stderr, 400)}` });
      else log(`wheelhouse: ${pkg}: Requires-Dist from Debian's Depends: ${wanted.join(', ')}`);
    }
    writeFileSync(marker, wanted.join('\n'));
  }

  // 2. A build venv in the guest: the guest's own build/setuptools/wheel plus the backends from the wheelhouse.
  const venv = `${G}/buildenv`;
  const pipIn = (what: string): string => `${venv}/bin/python -m pip install -q --no-index --find-links ${G}/wheelhouse ${what}`;
  if (!existsSync(join(dir, 'buildenv/.ready'))) {
    log('build venv (guest Python) with the backends from the wheelhouse');
    const r = await guestSh(opts.rootfs, dir, `set -e; rm -rf ${venv}; python3 -m venv --system-site-packages ${venv}; ${pipIn('flit_core setuptools_scm poetry-core cython wheel')}`, { signal: opts.signal });
    if (r.code !== 0) throw new Error(`build venv: ${tail(r.stderr + r.stdout)}`);
  }
  // 3. Wheels from fetched repositories (editables, pdm-backend), then the backends that need them.
  for (const w of manifest.wheelhouse.github) {
    const norm = normalizeName(w.name).replace(/-/g, '_');
    if (readdirSync(wheelhouse).some((f) => f.toLowerCase().startsWith(`${norm}-${w.version}-`))) continue;
    const git = join(mirrors, w.repo.replace('/', '+'), 'repo');
    if (!existsSync(git)) {
      skipped.push({ name: w.name, reason: `no mirror of ${w.repo} at ${git} (bring it with the search tool's fetch github:${w.repo})` });
      continue;
    }
    const src = join(srcDir, `wheel-${w.name}-${w.version}`);
    rmSync(src, { recursive: true, force: true });
    mkdirSync(src, { recursive: true });
    const a = await run('bash', ['-c', `git --git-dir=${q(git)} archive ${q(w.tag)} | tar -x -C ${q(src)}`]);
    if (a.code !== 0) {
      skipped.push({ name: w.name, reason: `git archive ${w.tag}: ${tail(a.stderr, 300)}` });
      continue;
    }
    const g = `${G}/src/${basename(src)}`;
    const r = await guestSh(opts.rootfs, dir, `set -e; cd ${g}; ${venv}/bin/python -m pip wheel -q --no-deps --no-build-isolation --no-index -w ${G}/wheelhouse .`,
      { env: { SETUPTOOLS_SCM_PRETEND_VERSION: w.version, PDM_BUILD_SCM_VERSION: w.version }, signal: opts.signal });
    if (r.code !== 0) skipped.push({ name: w.name, reason: `pip wheel: ${tail(r.stderr + r.stdout, 400)}` });
    else log(`wheelhouse: ${w.name} ${w.version} built from ${w.repo}@${w.tag}`);
  }
  if (!existsSync(join(dir, 'buildenv/.ready'))) {
    // Each backend on its own: one whose wheels are missing (no mirror of editables here) is named, not fatal.
    let all = true;
    for (const b of ['hatchling', 'hatch-vcs', 'pdm-backend']) {
      const r = await guestSh(opts.rootfs, dir, pipIn(b), { signal: opts.signal });
      if (r.code !== 0) {
        all = false;
        skipped.push({ name: `build backend ${b}`, reason: tail(r.stderr + r.stdout, 300) });
      }
    }
    if (all) writeFileSync(join(dir, 'buildenv/.ready'), '');
  }

  // 4. The members' sdists.
  const members: ObtainedMember[] = [];
  const only = opts.only?.map(normalizeName);
  const index = existsSync(join(dir, 'members.json')) ? JSON.parse(readFileSync(join(dir, 'members.json'), 'utf8')) as Record<string, ObtainedMember> : {};
  for (const m of manifest.members) {
    const key = normalizeName(m.name);
    if (only && !only.includes(key)) continue;
    const cached = index[key];
    if (cached && cached.version === m.version && existsSync(join(sdistDir, cached.file))) {
      members.push(cached);
      continue;
    }
    log(`obtaining ${m.name} ${m.version} (${m.source.debian ? `Debian source ${m.source.debian}` : `github ${m.source.github}@${m.source.tag}`})`);
    const got = await obtainMember(m, { dir, rootfs: opts.rootfs, apt, mirrors, signal: opts.signal, venv });
    if ('reason' in got) {
      skipped.push({ name: m.name, reason: got.reason });
      log(`  skipped: ${got.reason.split('\n')[0]}`);
      continue;
    }
    index[key] = got;
    writeFileSync(join(dir, 'members.json'), JSON.stringify(index, null, 1));
    members.push(got);
    log(`  ${got.file}`);
  }
  writeFileSync(join(dir, 'skipped.json'), JSON.stringify(skipped, null, 1));
  return { dir, sdistDir, wheelhouse, members, skipped };
}

/** Adds the tree's files (cwd) that the sdist (argv[1]) lacks, as `flit build` does with git's files, minus [tool.flit.sdist] exclude. */
const VCS_SDIST_PY = `
import fnmatch, gzip, io, os, sys, tarfile, tomllib
path = sys.argv[1]
cfg = tomllib.load(open("pyproject.toml", "rb")).get("tool", {}).get("flit", {}).get("sdist", {})
exclude = cfg.get("exclude", [])
with tarfile.open(path) as t:
    members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
prefix = members[0][0].name.split("/")[0]
have = {m.name for m, _ in members}
for root, dirs, files in os.walk("."):
    dirs[:] = sorted(d for d in dirs if d not in (".git", "__pycache__"))
    for f in sorted(files):
        rel = os.path.relpath(os.path.join(root, f), ".")
        if any(fnmatch.fnmatch(rel, e) or rel.startswith(e.rstrip("/") + "/") for e in exclude):
            continue
        name = prefix + "/" + rel
        if name in have or os.path.islink(rel):
            continue
        data = open(rel, "rb").read()
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = members[0][0].mtime
        members.append((info, data))
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for m, data in members:
        t.addfile(m, io.BytesIO(data) if data is not None else None)
with gzip.GzipFile(path, "wb", mtime=0) as g:
    g.write(buf.getvalue())
`;

async function obtainMember(m: CorpusMember, ctx: { dir: string; rootfs: string; apt: PrivateApt; mirrors: string; venv: string; signal?: AbortSignal }): Promise<ObtainedMember | { reason: string }> {
  const { dir } = ctx;
  const sdistDir = join(dir, 'sdists');
  const stem = `${m.name}-${m.version}`;
  const src = join(dir, 'src', stem);
  let source: string;
  if (m.source.debian) {
    const got = await ctx.apt.source(m.source.debian, join(dir, 'apt', 'src'));
    if (!got.orig) return { reason: `Debian source package ${m.source.debian}: ${got.error}` };
    source = `debian:${m.source.debian} ${basename(got.orig)}`;
    if (m.sdist && got.orig.endsWith('.tar.gz')) {
      const top = await topDir(got.orig);
      const file = `${top}.tar.gz`;
      copyFileSync(got.orig, join(sdistDir, file));
      return { name: m.name, version: m.version, file, sha256: sha256(join(sdistDir, file)), source };
    }
    rmSync(src, { recursive: true, force: true });
    mkdirSync(src, { recursive: true });
    const x = await run('tar', ['-xf', got.orig, '-C', src, '--strip-components=1']);
    if (x.code !== 0) return { reason: `unpacking ${basename(got.orig)}: ${tail(x.stderr, 300)}` };
  } else if (m.source.github && m.source.tag) {
    const git = join(ctx.mirrors, m.source.github.replace('/', '+'), 'repo');
    if (!existsSync(git)) return { reason: `no mirror of ${m.source.github} at ${git} (bring it with the search tool's fetch github:${m.source.github})` };
    const commit = (await run('git', [`--git-dir=${git}`, 'rev-parse', `${m.source.tag}^{commit}`])).stdout.trim();
    if (!commit) return { reason: `${m.source.github} has no tag ${m.source.tag}` };
    source = `github:${m.source.github}@${m.source.tag} ${commit.slice(0, 12)}`;
    rmSync(src, { recursive: true, force: true });
    mkdirSync(src, { recursive: true });
    const a = await run('bash', ['-c', `git --git-dir=${q(git)} archive ${q(commit)} | tar -x -C ${q(src)}`]);
    if (a.code !== 0) return { reason: `git archive: ${tail(a.stderr, 300)}` };
  } else return { reason: 'manifest entry has no source' };
  // Build the sdist in the guest, offline, into a fresh out dir.
  const out = join(dir, 'build-out', stem);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  // Generated C that upstream's release step adds to the sdist (`make cython`), from Debian's Cython.
  const pre = (m.cythonize ?? []).map((a) => `${ctx.venv}/bin/python -m cython ${a}; `).join('');
  const r = await guestSh(ctx.rootfs, dir, `set -e; cd ${G}/src/${stem}; ${pre}${ctx.venv}/bin/python -m build --sdist --no-isolation --skip-dependency-check --outdir ${G}/build-out/${stem} . 2>&1`,
    { env: { SETUPTOOLS_SCM_PRETEND_VERSION: m.version, PDM_BUILD_SCM_VERSION: m.version, SOURCE_DATE_EPOCH: '1672531200' }, signal: ctx.signal });
  writeFileSync(join(dir, 'build-logs', `${stem}.log`), r.stdout + r.stderr);
  const built = readdirSync(out).filter((f) => f.endsWith('.tar.gz'));
  if (r.code !== 0 || built.length !== 1) return { reason: `sdist build failed (exit ${r.code}): ${tail(r.stdout + r.stderr, 600)}` };
  if (m.vcsSdist) {
    const add = await guestSh(ctx.rootfs, dir, `cd ${G}/src/${stem} && python3 -c ${q(VCS_SDIST_PY)} ${G}/build-out/${stem}/${built[0]!} 2>&1`, { signal: ctx.signal });
    if (add.code !== 0) return { reason: `adding the tracked files to the sdist: ${tail(add.stdout + add.stderr, 400)}` };
  }
  renameSync(join(out, built[0]!), join(sdistDir, built[0]!));
  rmSync(out, { recursive: true, force: true });
  return { name: m.name, version: m.version, file: built[0]!, sha256: sha256(join(sdistDir, built[0]!)), source };
}
