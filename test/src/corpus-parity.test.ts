/**
 * Native parity on the real-world corpus members a CI machine can obtain: Debian 12's source packages
 * (test/corpus/corpus.json `ci`), with the wheelhouse made from Debian's binary packages
 * (deb2wheel.py), all cached under the corpus directory outside the repository. For each member
 * obtained, PyTI audits the sdist (bwrap backend, lint and style left out) and plain pytest runs the
 * same tests natively with the same dependencies (test/src/corpus/native.ts); the test asserts, per
 * package, that PyTI's per-test outcomes are identical to native pytest's (PyTI's flaky counts as its
 * final pass), that a release without tests is `no-tests` on both sides, and that when a test
 * requirement is not obtainable PyTI says `test-fail:deps` naming it. It also asserts that no member
 * gets a finding above low. A member that cannot be obtained (the mirror answers 404) is skipped,
 * and the skip is printed with its reason.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireRootfs } from '@pyti/images';
import { auditDistribution, BwrapBackend } from '@pyti/slave';
import { type AuditReport } from '@pyti/common';
import { corpusDir, loadManifest, normalizeName, obtainCorpus, type ObtainResult } from './corpus/obtain.js';
import { NATIVE_METHOD, runNative, type NativeResult } from './corpus/native.js';
import { compareOutcomes, junitKeyOfNodeId, nativeOutcomes, pytiOutcomes, pytiOutcomesOfReport } from './corpus/compare.js';

jest.setTimeout(900_000);

const DEB2WHEEL = new URL('./corpus/deb2wheel.py', import.meta.url).pathname;

describe('deb2wheel', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'pyti-deb2wheel-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** A real .deb made with dpkg-deb from a tree with an egg-info directory and a requires.txt. */
  function makeDeb(): string {
    const root = join(tmp, 'pkg');
    const site = join(root, 'usr/lib/python3/dist-packages');
    mkdirSync(join(site, 'demo_pkg/sub'), { recursive: true });
    mkdirSync(join(site, 'demo_pkg/__pycache__'), { recursive: true });
    mkdirSync(join(site, 'demo_pkg-1.2.egg-info'), { recursive: true });
    mkdirSync(join(root, 'DEBIAN'), { recursive: true });
    writeFileSync(join(site, 'demo_pkg/__init__.py'), 'VALUE = 42\n');
    writeFileSync(join(site, 'demo_pkg/sub/mod.py'), 'def f():\n    return "é"\n');
    writeFileSync(join(site, 'demo_pkg/__pycache__/__init__.cpython-311.pyc'), 'x');
    writeFileSync(join(site, 'demo_pkg-1.2.egg-info/PKG-INFO'), 'Metadata-Version: 1.1\nName: demo-pkg\nVersion: 1.2\nSummary: Démo\nAuthor: José\n');
    writeFileSync(join(site, 'demo_pkg-1.2.egg-info/top_level.txt'), 'demo_pkg\n');
    writeFileSync(join(site, 'demo_pkg-1.2.egg-info/requires.txt'), 'six>=1.0\n\n[:python_version < "3.8"]\nimportlib-metadata\n\n[test]\npretend\n');
    writeFileSync(join(site, 'demo_pkg-1.2.egg-info/entry_points.txt'), '[console_scripts]\ndemo = demo_pkg:main\n');
    writeFileSync(join(root, 'DEBIAN/control'), 'Package: python3-demo-pkg\nVersion: 1.2-1\nArchitecture: all\nMaintainer: t <t@example.invalid>\nDescription: demo\n');
    const deb = join(tmp, 'python3-demo-pkg_1.2-1_all.deb');
    execFileSync('dpkg-deb', ['--build', '--root-owner-group', root, deb], { stdio: 'ignore' });
    return deb;
  }

  it('turns an egg-info deb into a wheel whose METADATA, WHEEL and RECORD are right', () => {
    const deb = makeDeb();
    const out = join(tmp, 'wh');
    const lines = execFileSync('python3', [DEB2WHEEL, '--out', out, deb], { encoding: 'utf8' }).trim().split('\n');
    expect(lines).toHaveLength(1);
    const info = JSON.parse(lines[0]!) as { wheel: string; tag: string };
    expect(info).toMatchObject({ wheel: 'demo_pkg-1.2-py3-none-any.whl', tag: 'py3-none-any' });
    // Checks with Python's zipfile: RECORD lists every other file with its right sha256 and size.
    const check = execFileSync('python3', ['-c', `
import base64, hashlib, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = set(z.namelist())
rec = z.read("demo_pkg-1.2.dist-info/RECORD").decode().splitlines()
seen = set()
for line in rec:
    path, h, size = line.rsplit(",", 2)
    seen.add(path)
    if path.endswith("RECORD"):
        continue
    data = z.read(path)
    assert h == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode(), path
    assert int(size) == len(data), path
assert seen == names, (seen ^ names)
assert not any("__pycache__" in n for n in names)
print(z.read("demo_pkg-1.2.dist-info/METADATA").decode())
print(z.read("demo_pkg-1.2.dist-info/WHEEL").decode())
print(sorted(names))
`, join(out, info.wheel)], { encoding: 'utf8' });
    expect(check).toContain('Metadata-Version: 2.1');
    expect(check).toContain('Author: José');
    expect(check).toContain('Requires-Dist: six>=1.0');
    expect(check).toContain('Requires-Dist: importlib-metadata; python_version < "3.8"');
    expect(check).toContain('Requires-Dist: pretend; extra == "test"');
    expect(check).toContain('Provides-Extra: test');
    expect(check).toContain('Root-Is-Purelib: true');
    expect(check).toContain('demo_pkg/sub/mod.py');
    expect(check).toContain('demo_pkg-1.2.dist-info/entry_points.txt');
  });

  it('makes a wheel pip installs offline and whose module imports', () => {
    const rootfs = requireRootfs().path;
    const out = join(tmp, 'wh');
    const venv = join(tmp, 'venv');
    // The guest's Python (3.11.2) inside bubblewrap, no network.
    execFileSync('bwrap', ['--unshare-all', '--die-with-parent', '--ro-bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
      '--ro-bind', out, '/tmp/wh', '--bind', tmp, '/tmp/t', '--setenv', 'HOME', '/tmp', '--', 'bash', '-c',
      `python3 -m venv /tmp/t/venv && /tmp/t/venv/bin/python -m pip install -q --no-index --find-links /tmp/wh --no-deps demo-pkg && /tmp/t/venv/bin/python -c 'import demo_pkg, demo_pkg.sub.mod as m; assert demo_pkg.VALUE == 42 and m.f() == "é"' && test -x /tmp/t/venv/bin/demo`], { stdio: 'pipe' });
    expect(existsSync(venv)).toBe(true);
  });
});

describe('junit keys', () => {
  it('mangles node ids as pytest’s junitxml does', () => {
    expect(junitKeyOfNodeId('tests/test_a.py::TestX::test_y[a/b::c]')).toBe('tests.test_a.TestX::test_y[a/b::c]');
    expect(junitKeyOfNodeId('src/pkg/mod.py::pkg.mod.func')).toBe('src.pkg.mod::pkg.mod.func');
    expect(junitKeyOfNodeId('test_six.py::test_lazy')).toBe('test_six::test_lazy');
  });

  it('counts a flaky test as its final pass and differences both ways', () => {
    const native = nativeOutcomes([
      { id: 'tests.t::a', classname: 'tests.t', name: 'a', outcome: 'passed', durationMs: 1 },
      { id: 'tests.t::b', classname: 'tests.t', name: 'b', outcome: 'failed', durationMs: 1 },
    ]);
    const pyti = pytiOutcomes({ total: 2, passed: 1, failed: 0, errors: 0, skipped: 0, durationSeconds: 0, flaky: ['tests/t.py::a'], cases: [
      { id: 'tests/t.py::a', name: 'a', outcome: 'flaky', durationMs: 1 },
      { id: 'tests/t.py::c', name: 'c', outcome: 'passed', durationMs: 1 },
    ], source: 'test-outcomes.jsonl' });
    const p = compareOutcomes(native, pyti);
    expect(p.identical).toBe(false);
    expect(p.differences).toEqual(['tests.t::b: fail → absent', 'tests.t::c: absent → pass']);
  });

  it('reads every case from the raw outcomes when the report left some out for its size budget', () => {
    const d = mkdtempSync(join(tmpdir(), 'pyti-compare-'));
    try {
      mkdirSync(join(d, 'raw', 'test'), { recursive: true });
      const lines = ['{"pyti": "outcomes", "version": 1}', ...['a', 'b', 'c'].map((n) => JSON.stringify({ nodeid: `tests/t.py::${n}`, outcome: n === 'b' ? 'failed' : 'passed', when: 'call', duration: 0 }))];
      writeFileSync(join(d, 'raw', 'test', 'test-outcomes.jsonl'), `${lines.join('\n')}\n`);
      const tests = { total: 3, passed: 2, failed: 0, errors: 0, skipped: 0, durationSeconds: 0, flaky: ['tests/t.py::b'], casesOmitted: 2, source: 'test-outcomes.jsonl' as const,
        cases: [{ id: 'tests/t.py::b', name: 'b', outcome: 'flaky' as const, durationMs: 0 }] };
      expect([...pytiOutcomesOfReport(tests, d)]).toEqual([['tests.t::a', 'pass'], ['tests.t::b', 'pass'], ['tests.t::c', 'pass']]);
      expect([...pytiOutcomesOfReport({ ...tests, casesOmitted: 0 }, d)]).toEqual([['tests.t::b', 'pass']]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('pairs parametrized ids that differ only in digits taken from the clock', () => {
    const native = new Map([['t::test_dt[18:59:56 2026-12-02]', 'pass' as const], ['t::test_x[1]', 'pass' as const]]);
    const pyti = new Map([['t::test_dt[19:00:01 2026-12-02]', 'pass' as const], ['t::test_x[2]', 'fail' as const]]);
    const p = compareOutcomes(native, pyti);
    expect(p.differences).toEqual(['t::test_x[1]: pass → fail']);
  });
});

describe('native parity on the corpus members CI can obtain', () => {
  const manifest = loadManifest();
  let obtained: ObtainResult;
  let rootfs: string;
  beforeAll(async () => {
    rootfs = requireRootfs().path;
    obtained = await obtainCorpus({ rootfs, only: manifest.ci, log: (l) => process.stderr.write(`corpus: ${l}\n`) });
    for (const s of obtained.skipped) process.stderr.write(`corpus: SKIPPED ${s.name}: ${s.reason.split('\n')[0]}\n`);
  }, 900_000);

  for (const name of manifest.ci) {
    it(`${name}: PyTI's per-test outcomes are native pytest's`, async () => {
      const m = obtained.members.find((x) => normalizeName(x.name) === normalizeName(name));
      if (!m) {
        const why = obtained.skipped.find((s) => normalizeName(s.name) === normalizeName(name))?.reason ?? 'not obtained';
        process.stderr.write(`corpus-parity: skipping ${name}: cannot obtain it here: ${why.split('\n')[0]}\n`);
        return;
      }
      const sdist = join(obtained.sdistDir, m.file);
      const work = join(corpusDir(), 'ci-work', `${m.name}-${m.version}`);
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      // Native outcomes are the reference: cached per sdist, wheelhouse (its file names) and native method.
      const state = createHash('sha256').update(`${NATIVE_METHOD}\n${readdirSync(obtained.wheelhouse).sort().join('\n')}`).digest('hex').slice(0, 12);
      const cacheFile = join(corpusDir(), 'ci-native', `${m.sha256.slice(0, 16)}-${state}.json`);
      let native: NativeResult;
      if (existsSync(cacheFile)) native = JSON.parse(readFileSync(cacheFile, 'utf8')) as NativeResult;
      else {
        native = await runNative({ rootfs, sdist, wheelhouse: obtained.wheelhouse, workDir: join(work, 'native') });
        mkdirSync(join(corpusDir(), 'ci-native'), { recursive: true });
        if (native.status === 'ran') writeFileSync(cacheFile, JSON.stringify(native));
      }
      expect({ name, native: native.status, log: native.status === 'ran' ? '' : native.log }).toEqual({ name, native: 'ran', log: '' });
      const { report } = await auditDistribution({ distPath: sdist, wheelhouse: obtained.wheelhouse, outDir: join(work, 'pyti'), backend: new BwrapBackend(), parallel: 1, skip: ['lint', 'style'] }) as { report: AuditReport };
      const high = report.findings.filter((f) => f.severity !== 'info' && f.severity !== 'low').map((f) => `${f.severity} ${f.rule}`);
      expect({ name, findingsAboveLow: high }).toEqual({ name, findingsAboveLow: [] });
      if (native.missingTestRequirements.length) {
        // Not obtainable here (e.g. numpy): PyTI must not run the tests and must name them.
        expect({ name, result: report.result }).toEqual({ name, result: 'test-fail:deps' });
        // What PyTI names is what the wheelhouse cannot give natively either (pytest itself may come from the image).
        const base = (r: string): string => normalizeName(r.split(/[<>=!~;\s[]/)[0]!);
        const named = (report.tests?.missingRequirements ?? []).map(base);
        const nativeMissing = native.missingTestRequirements.map(base);
        expect(named.length).toBeGreaterThan(0);
        for (const r of named) expect({ name, named: r, nativeMissing }).toEqual({ name, named: r, nativeMissing: expect.arrayContaining([r]) });
        return;
      }
      const nat = nativeOutcomes(native.cases);
      const parity = compareOutcomes(nat, pytiOutcomesOfReport(report.tests, join(work, 'pyti')));
      if (nat.size === 0) expect({ name, tests: report.tests?.status }).toEqual({ name, tests: 'no tests' });
      expect({ name, native: parity.native, pyti: parity.pyti, differences: parity.differences })
        .toEqual({ name, native: parity.native, pyti: parity.native, differences: [] });
    }, 900_000);
  }
});
