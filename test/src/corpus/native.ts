/**
 * The native baseline for the corpus bench: a member's own tests run by plain pytest the way a
 * maintainer runs them, with the same Python as the guest (the guest root filesystem's python3,
 * Debian 12's 3.11.2) and the same dependencies, but without PyTI: inside bubblewrap with no network
 * (runInGuest), a fresh venv, `pip install --no-index --find-links WHEELHOUSE SDIST`, then pytest,
 * coverage and the project's declared test requirements (readTestRequirements) from the same
 * wheelhouse, then `python -m pytest --junitxml=…` from the unpacked sdist's root. A flat layout with C
 * extensions (setup.py, no src/, C or Cython sources outside the tests) has them built in place first
 * (`setup.py build_ext --inplace`, as such projects' CI does), since its tests import the source tree.
 */
import { mkdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readTestRequirements, runInGuest, withoutVersion } from '@pyti/slave';
import { parseJunit, type TestCaseResult } from '@pyti/common';

/** Bumped whenever the native baseline or the test requirements it installs (readTestRequirements) change, so that cached native results are made again. */
export const NATIVE_METHOD = 3;

/** What the native run did. */
export interface NativeResult {
  /** `ran`, or why the tests did not run (`install-fail`, `test-deps-missing` is not fatal). */
  status: 'ran' | 'install-fail' | 'no-junit';
  /** The test requirements installed, and those the wheelhouse could not give. */
  testRequirements: string[];
  missingTestRequirements: string[];
  /** Pinned test requirements the wheelhouse has only at another version, installed by their bare name. */
  relaxedTestRequirements?: string[];
  cases: TestCaseResult[];
  pytestExit: number | null;
  ms: number;
  /** The end of the run's log. */
  log: string;
}

export interface NativeOptions {
  rootfs: string;
  sdist: string;
  wheelhouse: string;
  /** A scratch directory (emptied first). */
  workDir: string;
  /** Test requirements; default: readTestRequirements(sdist). */
  testRequirements?: string[];
  timeoutMs?: number;
  signal?: AbortSignal;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs the member's tests natively; never throws for the package's own failures. */
export async function runNative(opts: NativeOptions): Promise<NativeResult> {
  const t0 = Date.now();
  rmSync(opts.workDir, { recursive: true, force: true });
  mkdirSync(opts.workDir, { recursive: true });
  const reqs = opts.testRequirements ?? (await readTestRequirements(opts.sdist, opts.rootfs, opts.signal)).requirements;
  // Each line: the requirement, a tab, its bare name when it has a version specifier (tried when the pin cannot be met).
  writeFileSync(join(opts.workDir, 'reqs.txt'), reqs.map((r) => `${r}\t${withoutVersion(r) ?? ''}`).join('\n') + '\n');
  writeFileSync(join(opts.workDir, 'reqs-only.txt'), reqs.join('\n') + '\n');
  const sd = `/tmp/in/${basename(opts.sdist)}`;
  const pip = '/tmp/work/venv/bin/python -m pip install --no-index --find-links /tmp/wheelhouse';
  const unpack = sd.endsWith('.zip')
    ? `/tmp/work/venv/bin/python -c 'import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall("/tmp/work/x")' ${q(sd)} && mv /tmp/work/x/* /tmp/work/src`
    : `mkdir -p /tmp/work/src && tar -xf ${q(sd)} -C /tmp/work/src --strip-components=1`;
  const script = [
    'exec 2>&1',
    'python3 -m venv /tmp/work/venv || exit 90',
    `${pip} ${q(sd)} > /tmp/work/install.log 2>&1 || { tail -40 /tmp/work/install.log; exit 91; }`,
    // The test requirements together; if that fails, one by one, a pin that cannot be met by its bare
    // name (as a maintainer would, and as PyTI does); what still fails is named.
    `if ! ${pip} pytest coverage -r /tmp/work/reqs-only.txt > /tmp/work/testreqs.log 2>&1; then`,
    `  ${pip} pytest coverage >> /tmp/work/testreqs.log 2>&1`,
    "  while IFS=$'\\t' read -r r loose; do [ -z \"$r\" ] && continue; " + `${pip} "$r" >> /tmp/work/testreqs.log 2>&1 && continue; `
      + `if [ -n "$loose" ] && ${pip} "$loose" >> /tmp/work/testreqs.log 2>&1; then echo "$r" >> /tmp/work/relaxed.txt; else echo "$r" >> /tmp/work/missing.txt; fi; done < /tmp/work/reqs.txt`,
    'fi',
    `${unpack} || exit 92`,
    'cd /tmp/work/src',
    'PYTEST="/tmp/work/venv/bin/python -m pytest -o junit_family=xunit2 --junitxml=/tmp/work/native-junit.xml -q -p no:cacheprovider"',
    // A flat layout with C extensions: its tests import the package from the source tree, so the
    // extensions are built in place first, as such projects' CI does (`setup.py build_ext --inplace`).
    'if [ -f setup.py ] && [ ! -d src ] && find . -path ./tests -prune -o -path ./test -prune -o \\( -name "*.pyx" -o -name "*.c" -o -name "*.cpp" \\) -print | grep -q .; then',
    `  ${pip} setuptools wheel cython >> /tmp/work/testreqs.log 2>&1; /tmp/work/venv/bin/python setup.py -q build_ext --inplace > /tmp/work/build_ext.log 2>&1 && echo "native: built the extensions in place"`,
    'fi',
    '$PYTEST > /tmp/work/pytest.log 2>&1; code=$?',
    'tail -15 /tmp/work/pytest.log; exit $code',
  ].join('\n');
  const r = await runInGuest(['bash', '-c', script], {
    rootfs: opts.rootfs,
    binds: [{ host: opts.workDir, guest: '/tmp/work', rw: true }, { host: dirname(opts.sdist), guest: '/tmp/in' }, { host: opts.wheelhouse, guest: '/tmp/wheelhouse' }],
    env: { PIP_DISABLE_PIP_VERSION_CHECK: '1' }, cwd: '/tmp/work', timeoutMs: opts.timeoutMs ?? 1_800_000, signal: opts.signal, maxOutputBytes: 64 * 1024,
  });
  const ms = Date.now() - t0;
  const lines = (f: string): string[] => (existsSync(join(opts.workDir, f)) ? readFileSync(join(opts.workDir, f), 'utf8').split('\n').filter(Boolean) : []);
  const base = { testRequirements: reqs, missingTestRequirements: lines('missing.txt'), relaxedTestRequirements: lines('relaxed.txt'), pytestExit: r.code, ms, log: (r.stdout + r.stderr).slice(-4000) };
  if (r.code === 90 || r.code === 91 || r.code === 92) return { status: 'install-fail', cases: [], ...base };
  const junit = join(opts.workDir, 'native-junit.xml');
  if (!existsSync(junit)) return { status: 'no-junit', cases: [], ...base };
  return { status: 'ran', cases: parseJunit(readFileSync(junit, 'utf8')).cases, ...base };
}
