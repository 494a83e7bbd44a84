/**
 * Test requirements end to end with the guest's Python and pip: read from real .tar.gz and .zip
 * sdists (TOML by the guest's tomllib, markers by its packaging), then resolved against the test index
 * with the runtime requirements (idx-tested's test extra is on the index; idx-test-missing's names a
 * project the index lacks).
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { requireRootfs } from '@pyti/images';
import { auditDistribution, BwrapBackend, guestTags, prefetchDependencies, readTestRequirements, WheelCache, type GuestTags } from '@pyti/slave';
import { renderHtml, validateDist } from '@pyti/common';
import { buildIndexFixtures, type IndexFixtures } from './index-fixtures.js';
import { startIndexServer, type IndexServer } from './index-server/index-server.js';

jest.setTimeout(300_000);

let dir: string;
let rootfs: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-testreqs-'));
  rootfs = requireRootfs().path;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `files` under `top/` and packs them as `top.tar.gz` or `top.zip`. */
function sdist(top: string, files: Record<string, string>, kind: 'tar.gz' | 'zip'): string {
  const root = mkdtempSync(join(dir, 'src-'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, top, p)), { recursive: true });
    writeFileSync(join(root, top, p), text);
  }
  const out = join(dir, `${top}-${kind === 'zip' ? 'z' : 't'}.${kind}`);
  const r = kind === 'zip' ? spawnSync('zip', ['-qr', out, top], { cwd: root, encoding: 'utf8' }) : spawnSync('tar', ['-czf', out, '-C', root, top], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`packing failed: ${r.stderr}`);
  return out;
}

const PROJECT = {
  'PKG-INFO': 'Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\nProvides-Extra: test\nRequires-Dist: pytest>=7; extra == "test"\nRequires-Dist: tomli; python_version < "3.11" and extra == "test"\nRequires-Dist: pywin32; sys_platform == "win32" and extra == "test"\n\n',
  'pyproject.toml': [
    '[project]', 'name = "demo-pkg"', 'version = "1.0"', '[project.optional-dependencies]', 'test = ["pytest>=7", "tomli; python_version < \'3.11\'"]', 'docs = ["sphinx"]',
    '[dependency-groups]', 'test = [{include-group = "typing"}, "hypothesis>=6"]', 'typing = ["mypy; implementation_name == \'cpython\'"]',
    '[tool.pytest.ini_options]', 'addopts = ["--cov=demo_pkg", "-p", "no:cacheprovider", "-n", "auto"]', 'required_plugins = "pytest-mock>=3"',
  ].join('\n'),
  'requirements/test.txt': '-r ../requirements-base.txt\nresponses  # mocks requests\nnot a valid requirement!!\n',
  'requirements-base.txt': 'freezegun\n',
  'tox.ini': '[testenv]\ndeps =\n    -r{toxinidir}/requirements/test.txt\n    py311: trustme\n    py27: mock\n',
  'setup.cfg': '[tool:pytest]\naddopts = --timeout 5\n',
};

describe('readTestRequirements with the guest\'s Python', () => {
  it.each(['tar.gz', 'zip'] as const)('reads a %s sdist: extras, groups, files, tox, pytest plugins, markers evaluated', async (kind) => {
    const r = await readTestRequirements(sdist('demo_pkg-1.0', PROJECT, kind), rootfs);
    expect(r.requirements.map((q, i) => [q, r.sources[i]])).toEqual([
      ['pytest>=7', 'extra:test'],
      ['mypy; implementation_name == \'cpython\'', 'dependency-group:typing'],
      ['hypothesis>=6', 'dependency-group:test'],
      ['freezegun', 'requirements-base.txt'],
      ['responses', 'requirements/test.txt'],
      ['trustme', 'tox.ini [testenv] deps'],
      ['pytest-cov', 'pytest addopts --cov → pytest-cov'],
      ['pytest-xdist', 'pytest addopts -n → pytest-xdist'],
      ['pytest-mock>=3', 'required_plugins'],
    ]);
    expect(r.notes.join('\n')).toMatch(/not a valid requirement/);
    expect(r.notes.join('\n')).toMatch(/do not apply to this interpreter/); // tomli (3.11) and pywin32
  });

  it('gives a wheel none', async () => {
    const fx = buildIndexFixtures();
    expect(await readTestRequirements(fx.dists['idx-app']!.wheel, rootfs)).toEqual({ requirements: [], sources: [], notes: [] });
  });

  it('reads setup.py\'s tests_require without running setup.py (a list through a module-level name, as pyrsistent 0.19.3 declares its tests\' needs)', async () => {
    const setupPy = [
      'import sys',
      'open("/tmp/pyti-setup-py-ran", "w").write("ran")  # would be seen if setup.py ran',
      'TESTS = ["pytest<7", "hypothesis<7; python_version >= \'3\'", "pywin32; sys_platform == \'win32\'", "tox>=3"]',
      'from setuptools import setup',
      'setup(name="legacy-pkg", version="1.0", tests_require=TESTS, extras_require={"docs": ["sphinx"]})',
    ].join('\n');
    const r = await readTestRequirements(sdist('legacy_pkg-1.0', { 'PKG-INFO': 'Metadata-Version: 1.1\nName: legacy-pkg\nVersion: 1.0\n\n', 'setup.py': setupPy }, 'tar.gz'), rootfs);
    expect(r.requirements.map((q, i) => [q, r.sources[i]])).toEqual([
      ['pytest<7', 'setup.py tests_require'], ['hypothesis<7; python_version >= \'3\'', 'setup.py tests_require'],
    ]);
    // tox runs suites; the tests do not import it (sortedcontainers 2.4.0 declares only tox).
    expect(r.notes).toContain('left out, a test runner or release tool rather than a test requirement: tox');
    // A setup.py that is not Python is a note, not a failure.
    const bad = await readTestRequirements(sdist('broken_pkg-1.0', { 'PKG-INFO': 'Metadata-Version: 1.1\nName: broken-pkg\nVersion: 1.0\n\n', 'setup.py': 'setup(tests_require=[\n' }, 'tar.gz'), rootfs);
    expect(bad.requirements).toEqual([]);
    expect(bad.notes.join('\n')).toMatch(/tests_require not read: setup\.py: SyntaxError/);
  });
});

describe('prefetching the test requirements against the test index', () => {
  let fx: IndexFixtures;
  let server: IndexServer;
  let tags: GuestTags;
  let cache: WheelCache;
  beforeAll(async () => {
    fx = buildIndexFixtures({ extra: ['idx-tested', 'idx-test-missing', 'idx-pinned-tests'] });
    // The index serves neither the audited fixtures' own wheels nor pytest and coverage.
    server = await startIndexServer({ files: fx.files.filter((f) => !/idx_(test(ed|_missing)|pinned_tests)-.*\.whl$/.test(f)) });
    tags = await guestTags(rootfs);
    cache = new WheelCache(join(dir, 'wheels'));
  });
  afterAll(async () => server?.close());

  it('resolves the test extra with the runtime requirements into the wheelhouse', async () => {
    const dist = await validateDist(fx.dists['idx-tested']!.sdist);
    const wh = join(dir, 'wh-tested');
    const log: string[] = [];
    const s = await prefetchDependencies({ dist, wheelhouse: wh, cache, rootfs, tags, simpleUrl: server.simpleUrl, onLog: (l) => log.push(l) });
    expect(s.error).toBeUndefined();
    // pytest is declared, but the index has neither it nor coverage: the test task uses the image's.
    expect(s.testRequirements).toEqual({ requirements: ['idx-app>=1.0'], unresolved: [], sources: ['extra:test'] });
    expect(readdirSync(wh).map((w) => w.split('-')[0]).sort()).toEqual(['idx_app', 'idx_leaf', 'setuptools', 'wheel']);
    // The plan: idx-leaf for the install; idx-app (the test extra) added for the test environment.
    expect(s.installPlan.runtime.map((w) => w.filename.split('-')[0])).toEqual(['idx_leaf']);
    expect(s.installPlan.test!.map((w) => w.filename.split('-')[0])).toEqual(['idx_app']);
    expect(log.join('\n')).toMatch(/pytest cannot be resolved from the index; the test task uses the image's copy/);
  });

  it('names a test requirement the index lacks, and still resolves the others', async () => {
    const dist = await validateDist(fx.dists['idx-test-missing']!.sdist);
    const wh = join(dir, 'wh-missing');
    const log: string[] = [];
    const s = await prefetchDependencies({ dist, wheelhouse: wh, cache, rootfs, tags, simpleUrl: server.simpleUrl, onLog: (l) => log.push(l) });
    expect(s.error).toBeUndefined(); // the runtime and build requirements resolved
    expect(s.testRequirements!.requirements).toEqual(['idx-app']);
    expect(s.testRequirements!.sources).toEqual(['extra:tests']);
    expect(s.testRequirements!.unresolved).toEqual([{ requirement: 'idx-absent-from-index>=1', reason: 'the index has no project idx-absent-from-index' }]);
    // One failed run, the index asked which projects it lacks (idx-absent-from-index, pytest, coverage), one run that resolves.
    expect(log.join('\n')).toMatch(/test requirements: 1 resolved, unresolved: idx-absent-from-index>=1 \(2 pip runs\)/);
    expect(readdirSync(wh).some((w) => w.startsWith('idx_app-'))).toBe(true);
  });

  it('relaxes a pinned test requirement the index has only at another version, so the tests still run', async () => {
    const dist = await validateDist(fx.dists['idx-pinned-tests']!.sdist);
    const log: string[] = [];
    const s = await prefetchDependencies({ dist, wheelhouse: join(dir, 'wh-pinned'), cache, rootfs, tags, simpleUrl: server.simpleUrl, onLog: (l) => log.push(l) });
    expect(s.testRequirements).toEqual({ requirements: ['idx-app'], unresolved: [], sources: ['extra:test'], relaxed: [{ requirement: 'idx-app==0.5', relaxedTo: 'idx-app' }] });
    expect(log.join('\n')).toMatch(/idx-app==0\.5 cannot be resolved at that version; trying idx-app/);
  });

  it.each([
    ['idx-tested', 'pass'], ['idx-test-missing', 'test-fail:deps'], ['idx-pinned-tests', 'pass'],
  ])('audits %s with what prefetch resolved: %s', async (name, result) => {
    const dist = await validateDist(fx.dists[name]!.sdist);
    const wh = join(dir, `wh-audit-${name}`);
    const s = await prefetchDependencies({ dist, wheelhouse: wh, cache, rootfs, tags, simpleUrl: server.simpleUrl });
    const { report: r } = await auditDistribution({
      distPath: dist.path, wheelhouse: wh, outDir: join(dir, `out-${name}`), backend: new BwrapBackend(), parallel: 2, testRequirements: s.testRequirements, installPlan: s.installPlan,
    });
    expect(r.result).toBe(result);
    // Installed from prefetch's plan by the installer, in the install task and in the test environment: no pip resolved in the guest.
    expect(r.install).toMatchObject({ installer: 'installer', installed: expect.arrayContaining([{ name, version: '1.0' }]) });
    if (name === 'idx-tested') expect(r.install!.installed).toEqual([{ name: 'idx-leaf', version: '1.1' }, { name, version: '1.0' }]);
    if (result === 'pass') expect(r.tests!.run).toMatchObject({ installer: 'installer' });
    if (name === 'idx-pinned-tests') {
      // Installed by its bare name, and the report says which version stood in for the pin.
      expect(r.tests).toMatchObject({ total: 2, passed: 2 });
      expect(r.tests!.run!.installed).toEqual(['idx-app']);
      expect(r.tests!.run!.relaxed).toEqual([{ requirement: 'idx-app==0.5', installed: '1.0' }]);
      expect(renderHtml(r)).toContain('<code>idx-app==0.5</code> → 1.0');
    } else if (result === 'pass') {
      expect(r.tests).toMatchObject({ total: 2, passed: 2 });
      expect(r.tests!.run!.installed).toEqual(['idx-app>=1.0']);
      expect(r.tests!.run!.relaxed).toBeUndefined();
    } else {
      expect(r.tests).toMatchObject({ status: 'not run', total: 0 });
      expect(r.tests!.missingRequirements!.join(' ')).toContain('idx-absent-from-index');
    }
  });
});
