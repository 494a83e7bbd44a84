/**
 * Builds the sdist of a git commit from its checked source archive, inside the guest sandbox
 * (guest-python.ts: bubblewrap, the guest image read-only, no network at all, an unprivileged uid in a
 * user namespace, all capabilities dropped), with the guest's own Python, in three runs:
 *
 * 1. unpack: `tar -xzf` of the archive into the build tree (the host never extracts it);
 * 2. requirements: a venv with `--system-site-packages` (the image's setuptools, wheel and build) and
 *    `pip install --no-index --find-links <wheels>` of the screened build requirements, offline, from
 *    the wheels the slave prefetched (only wheels: installing runs no package code);
 * 3. build: `python -m build --sdist --no-isolation`, the project's own build backend.
 *
 * Each run has a time limit and its output is capped; files are capped in size (`prlimit --fsize`).
 * Exactly one `.tar.gz` (a regular file with a distribution's name, within the size cap) must come
 * out. A failure in 2 or 3 is the package's (`build-fail:deps`, `build-fail`, `build-fail:timeout`)
 * and is returned as data; a failure to run the sandbox at all is thrown (PYTI_SLAVE_FAILED, retried),
 * an archive that does not unpack is PYTI_INPUT_MALFORMED.
 *
 * Security: the project's build code runs only in step 3, in the sandbox, where only the build tree
 * (the job's `sdist-build` directory) and the sandbox's own tmpfs are writable. The sandbox's pid namespace ends with it, so nothing it started survives;
 * its output is read only after that, with lstat (a symbolic link it left is refused, never followed).
 * Requirement strings reach pip as arguments after `--`, never through a shell's parsing.
 */
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { GIT_ARCHIVE_PREFIX, safeDistFilename } from '@pyti/common';
import { runInGuest, type GuestBind, type GuestRunResult } from '../prefetch/guest-python.js';
import { SOURCE_ARCHIVE_NAME } from './source-archive.js';

/** What to build and where (see the module comment). */
export interface SdistBuildOptions {
  rootfs: string;
  /** The checked source archive (its directory is mounted read-only at /tmp/in). */
  archive: string;
  /** A fresh, empty host directory: the build tree, the venv and the output (mounted at /tmp/build). */
  workDir: string;
  /** Wheels of the build requirements (mounted read-only at /tmp/wheels). */
  wheelhouse: string;
  /** Screened build requirements (see prefetch/requirements.ts). */
  requirements: string[];
  /** Per run (requirements, build). Default 10 min. */
  timeoutMs?: number;
  /** Largest sdist, and largest file the build may write. Default 256 MiB. */
  maxSdistBytes?: number;
  signal?: AbortSignal;
}

/** How a build that did not produce a usable sdist failed. */
export interface SdistBuildFailure {
  ok: false;
  result: 'build-fail' | 'build-fail:deps' | 'build-fail:timeout';
  reason: string;
  exitCode: number | null;
  /** Both runs' commands and output (capped). */
  log: string;
  durationMs: number;
}

/** The sdist that was built, or how the build failed. */
export type SdistBuildResult = { ok: true; sdist: string; log: string; durationMs: number } | SdistBuildFailure;

const MAX_LOG = 1024 * 1024;
// Mount points under the sandbox's /tmp (a fresh tmpfs): the guest's root is read-only.
const IN = '/tmp/in';
const WHEELS = '/tmp/wheels';
const BUILD = '/tmp/build';
const SRC = `${BUILD}/src/${GIT_ARCHIVE_PREFIX}`;
const ENV = { PIP_CONFIG_FILE: '/dev/null', PIP_NO_INDEX: '1', PYTHONDONTWRITEBYTECODE: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1' };

/** The shell script of the requirements run: `$@` are the requirements, never parsed by the shell. */
const REQUIREMENTS_SCRIPT = `set -e
python3 -m venv --system-site-packages --without-pip ${BUILD}/venv
if [ "$#" -gt 0 ]; then
  exec ${BUILD}/venv/bin/python -m pip install --no-index --find-links ${WHEELS} --no-input --no-cache-dir --progress-bar off -- "$@"
fi`;

const tail = (s: string, n = 4000): string => (s.length > n ? `…${s.slice(-n)}` : s);

/** Why the build's output directory does not hold exactly one usable sdist, or its path. */
export function pickSdist(outDir: string, maxBytes: number): { sdist: string } | { why: string } {
  const names = readdirSync(outDir);
  const name = names[0];
  if (names.length !== 1 || name === undefined || !name.endsWith('.tar.gz')) {
    const listed = names.slice(0, 10).map((n) => JSON.stringify(n.slice(0, 100))).join(', ');
    return { why: `the build left ${names.length ? listed : 'nothing'} in its output; exactly one .tar.gz was expected` };
  }
  if (!safeDistFilename(name)) return { why: `${JSON.stringify(names[0]!.slice(0, 100))} is not a distribution's file name` };
  const st = lstatSync(join(outDir, name));
  if (!st.isFile()) return { why: `${name} is not a regular file` };
  if (st.size > maxBytes) return { why: `${name} is ${st.size} bytes, above the ${maxBytes}-byte limit` };
  return { sdist: join(outDir, name) };
}

/** Builds the sdist (see the module comment). */
export async function buildSdist(o: SdistBuildOptions): Promise<SdistBuildResult> {
  const t0 = Date.now();
  const timeoutMs = o.timeoutMs ?? 600_000;
  const maxBytes = o.maxSdistBytes ?? 256 * 1024 * 1024;
  mkdirSync(join(o.workDir, 'src'), { recursive: true });
  mkdirSync(join(o.workDir, 'out'), { recursive: true });
  const binds: GuestBind[] = [
    { host: dirname(o.archive), guest: IN },
    { host: o.wheelhouse, guest: WHEELS },
    { host: o.workDir, guest: BUILD, rw: true },
  ];
  const run = (argv: string[], cwd: string, ms: number): Promise<GuestRunResult> =>
    runInGuest(argv, { rootfs: o.rootfs, binds, cwd, env: ENV, timeoutMs: ms, signal: o.signal, maxOutputBytes: MAX_LOG / 2 });

  const unpack = await run(['tar', '-xzf', `${IN}/${SOURCE_ARCHIVE_NAME}`, '-C', `${BUILD}/src`, '--no-same-owner', '--no-same-permissions'], BUILD, 120_000);
  if (unpack.code !== 0) {
    const why = tail(`${unpack.stderr}${unpack.stdout}`.trim(), 1000);
    if (/^bwrap:/m.test(unpack.stderr) || unpack.timedOut) throw new PytiError('PYTI_SLAVE_FAILED', `the build sandbox did not run: ${why || `exit ${unpack.code ?? unpack.signal}`}`);
    throw new PytiError('PYTI_INPUT_MALFORMED', `the source archive does not unpack: ${why}`);
  }

  let log = '';
  const record = (what: string, r: GuestRunResult): void => {
    log += `$ ${what}\n${r.stdout}${r.stderr}${r.timedOut ? `\n[timed out after ${Math.round(timeoutMs / 1000)} s]` : ''}\n[exit ${r.code ?? r.signal}]\n\n`;
    if (log.length > MAX_LOG) log = `…${log.slice(-MAX_LOG)}`;
  };
  const fail = (result: SdistBuildFailure['result'], reason: string, exitCode: number | null): SdistBuildFailure =>
    ({ ok: false, result, reason, exitCode, log, durationMs: Date.now() - t0 });
  const fsize = `--fsize=${maxBytes}`;

  const reqs = await run(['prlimit', fsize, '--', 'sh', '-c', REQUIREMENTS_SCRIPT, 'sh', ...o.requirements], SRC, timeoutMs);
  record(`pip install --no-index --find-links ${WHEELS} -- ${o.requirements.join(' ') || '(no build requirements)'}`, reqs);
  if (reqs.timedOut) return fail('build-fail:timeout', `installing the build requirements took longer than ${Math.round(timeoutMs / 1000)} s`, null);
  if (reqs.code !== 0) return fail('build-fail:deps', `the build requirements could not be installed offline: ${tail(reqs.stderr.trim() || reqs.stdout.trim(), 1000)}`, reqs.code);

  const build = await run(['prlimit', fsize, '--', `${BUILD}/venv/bin/python`, '-m', 'build', '--sdist', '--no-isolation', '--outdir', `${BUILD}/out`, SRC], SRC, timeoutMs);
  record(`python -m build --sdist --no-isolation --outdir ${BUILD}/out .`, build);
  if (build.timedOut) return fail('build-fail:timeout', `building the sdist took longer than ${Math.round(timeoutMs / 1000)} s`, null);
  if (build.code !== 0) {
    const lines = `${build.stdout}\n${build.stderr}`.trim().split('\n').filter((l) => l.trim());
    return fail('build-fail', `python -m build --sdist exited with ${build.code ?? build.signal}: ${tail(lines.slice(-3).join(' | '), 600)}`, build.code);
  }
  const picked = pickSdist(join(o.workDir, 'out'), maxBytes);
  if ('why' in picked) return fail('build-fail', picked.why, build.code);
  return { ok: true, sdist: picked.sdist, log, durationMs: Date.now() - t0 };
}
