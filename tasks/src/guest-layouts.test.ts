/**
 * The guest helpers that decide what the package is, run here with the host's python3 on trees
 * shaped like real sdists (our own scripts, no package code): pyti_common.find_modules (lint/style
 * targets: root, src/, lib/, declared package_dir; no build helpers, tests or docs), import_all's
 * primary/optional classification, inspect_dist's metadata reader on non-UTF-8 and folded metadata,
 * and build_wheel's reading of a failed build's log for what the image lacks.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const GUEST = new URL('../guest/', import.meta.url).pathname;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-guest-layouts-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const py = (code: string): string =>
  execFileSync('python3', ['-c', code], { cwd: GUEST, env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8' });

function tree(files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}
const modules = (root: string): string[] =>
  JSON.parse(py(`import json, os, pyti_common as c; r = ${JSON.stringify(root)}; print(json.dumps([os.path.relpath(m, r) for m in c.find_modules(r)]))`)) as string[];

describe('find_modules', () => {
  it("PyYAML 6's layout: lib/ via setup.py's literal package_dir, the .pyx directory and the tests are not modules", () => {
    const root = tree({
      'setup.py': "from setuptools import setup\nsetup(name='PyYAML', package_dir={'': 'lib'}, packages=['yaml', '_yaml'])\n",
      'setup.cfg': '[metadata]\nlicense_file = LICENSE\n',
      'lib/yaml/__init__.py': '', 'lib/yaml/composer.py': '', 'lib/_yaml/__init__.py': '',
      'yaml/_yaml.pyx': '', 'yaml/_yaml.h': '', 'tests/lib/test_yaml.py': '', 'tests/data/a.data': '', 'examples/yaml-highlight/yaml_hl.py': '',
      'packaging/build/libyaml.sh': '',
    });
    expect(modules(root)).toEqual(['lib/_yaml', 'lib/yaml']);
  });

  it('a src/ project declared in setup.cfg (`package_dir = =src`); docs/conf.py and tests left out', () => {
    const root = tree({
      'setup.cfg': '[metadata]\nname = attrs\n\n[options]\npackage_dir =\n    =src\npackages = find:\n',
      'setup.py': 'import setuptools\nsetuptools.setup()\n',
      'src/attr/__init__.py': '', 'src/attrs/__init__.py': '', 'docs/conf.py': '', 'tests/test_x.py': '', 'conftest.py': '', 'tox.ini': '',
    });
    expect(modules(root)).toEqual(['src/attr', 'src/attrs']);
  });

  it('a versioneer project: versioneer.py, setup.py, conftest.py, a root conf.py and benchmarks are not the package', () => {
    const root = tree({
      'versioneer.py': '', 'setup.py': '', 'conftest.py': '', 'conf.py': '', 'noxfile.py': '', 'benchmarks/bench_parse.py': '', 'bench_x.py': '',
      'pandas_like/__init__.py': '', 'pandas_like/_version.py': '', 'helper_mod.py': '', 'test_top.py': '',
    });
    expect(modules(root)).toEqual(['pandas_like']);
  });

  it("a flat package's stray root scripts are left out unless declared (yarl's benchmark.py); a lone module is the project (six.py)", () => {
    const root = tree({
      'setup.py': "setup(name='yarl', packages=['yarl'], py_modules=['yarl_compat_mod'])\n", 'yarl/__init__.py': '', 'benchmark.py': '', 'url_benchmark.py': '',
      'tsan_stress.py': '', 'yarl_compat_mod.py': '',
    });
    expect(modules(root)).toEqual(['yarl', 'yarl_compat_mod.py']);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root);
    expect(modules(tree({ 'six.py': '', 'setup.py': '', 'test_six.py': '', 'documentation/conf.py': '' }))).toEqual(['six.py']);
  });

  it('an unpacked wheel: every module at its root is installed', () => {
    const root = tree({ 'pkg/__init__.py': '', 'pkg_speedups.py': '', 'pkg-1.0.dist-info/METADATA': 'Name: pkg\n' });
    expect(modules(root)).toEqual(['pkg', 'pkg_speedups.py']);
  });

  it("a src/ layout makes the root's own packages and scripts helpers (attrs' typing_tests, dateutil's updatezinfo.py)", () => {
    const root = tree({ 'src/dateutil/__init__.py': '', 'updatezinfo.py': '', 'typing_tests/__init__.py': '', 'tasks/__init__.py': '', 'setup.py': '' });
    expect(modules(root)).toEqual(['src/dateutil']);
  });

  it('pyproject [tool.setuptools] package-dir and setup.cfg per-package mappings', () => {
    const root = tree({
      'pyproject.toml': '[tool.setuptools]\npackage-dir = {"" = "python"}\n',
      'python/fastpkg/__init__.py': '', 'python/fastpkg/core.py': '',
      'setup.cfg': '[options]\npackage_dir =\n    extra = third_party/extra\n    evil = ../outside\n',
      'third_party/extra/__init__.py': '',
    });
    expect(modules(root)).toEqual(['third_party/extra', 'python/fastpkg']);
  });

  it('a flat layout still works, with a lib/ that is itself a package and a declared module', () => {
    const root = tree({ 'lib/__init__.py': '', 'six.py': '', 'setup.py': "setup(packages=['lib'], py_modules=['six'])\n" });
    expect(modules(root)).toEqual(['lib', 'six.py']);
  });
});

describe('import_all: what is imported, and which failures fail the package', () => {
  const run = (code: string): unknown => JSON.parse(py(`import json, import_all as m\n${code}`));

  it('primary modules are named like the distribution', () => {
    expect(run("print(json.dumps({n: sorted(m.name_variants(n)) for n in ['PyYAML', 'python-dateutil', 'zope.interface', 'attrs']}))")).toEqual({
      PyYAML: ['pyyaml', 'yaml'], 'python-dateutil': ['dateutil', 'python_dateutil'], 'zope.interface': ['zope_interface'], attrs: ['attrs'],
    });
  });

  it('build helpers, tests and non-names are not imported', () => {
    const code = [
      'class D:',
      '    files = None',
      '    def read_text(self, n): return "yaml\\n_yaml\\nversioneer\\ntests\\nsetup\\nconftest\\ndocs\\nexamples\\nbenchmarks\\nfoo-bar\\nzope/interface\\n" if n == "top_level.txt" else None',
      'print(json.dumps(m.importable(D())))',
    ].join('\n');
    expect(run(code)).toEqual(['_yaml', 'yaml', 'zope.interface']);
  });

  it('an ImportError by design is optional: a shim, an undeclared optional dependency, a deliberate raise; not a required one', () => {
    const code = [
      'own, req = {"yaml", "_yaml"}, {"requests"}',
      'def e(name=None, cls=ModuleNotFoundError): x = cls("no"); x.name = name; return x',
      'print(json.dumps([',
      '  m.optional_failure("_yaml", e("yaml._yaml"), own, req),',
      '  m.optional_failure("six_compat", ImportError("x"), own, req),',
      '  m.optional_failure("yaml_numpy", e("numpy"), own, req),',
      '  m.optional_failure("yaml_cext", ImportError("needs libyaml"), own, req),',
      '  m.optional_failure("yaml_http", e("requests"), own, req),',
      '  m.optional_failure("yamlx", e("yaml.missing"), own, req),',
      '  m.optional_failure("yamly", ValueError("boom"), own, req),',
      ']))',
    ].join('\n');
    expect(run(code)).toEqual([true, true, true, true, false, false, false]);
  });
});

test('inspect_dist.parse_metadata: latin-1, folded Description header, Project-URL, keywords', () => {
  const data = Buffer.from('Metadata-Version: 1.1\r\nName: caf\xe9\r\nVersion: 1\r\nAuthor: Jos\xe9\r\nDescription: T\r\n        |  x\r\nProject-URL: Docs, https://d.invalid\r\nKeywords: a b\r\n', 'latin1');
  writeFileSync(join(dir, 'PKG-INFO'), data);
  const out = JSON.parse(py(`import json, inspect_dist as i; print(json.dumps(i.read_metadata(${JSON.stringify(join(dir, 'PKG-INFO'))})))`)) as Record<string, unknown>;
  expect(out).toMatchObject({ name: 'café', author: 'José', description: 'T\n  x', metadata_encoding: 'latin-1', keywords: ['a', 'b'], project_urls: [{ label: 'Docs', url: 'https://d.invalid' }] });
});

test("build_wheel.missing_tools names what a failed build's log says the image lacks", () => {
  const log = [
    'src/_yaml.c:1180:10: fatal error: yaml.h: No such file or directory',
    "error: command 'gfortran' failed: No such file or directory",
    'sh: 1: cargo: not found',
    'sh: 1: git: not found',
    'error: can\'t find Rust compiler',
    '/usr/bin/ld: cannot find -lopenblas: No such file or directory',
    'Package libxml-2.0 was not found in the pkg-config search path.',
    'CMake Error at CMakeLists.txt:3 (project): No CMAKE_Fortran_COMPILER could be found.',
    'ModuleNotFoundError: No module named \'numpy\'',
  ].join('\n');
  const out = JSON.parse(py(`import json, build_wheel as b; print(json.dumps(b.missing_tools(${JSON.stringify(log)})))`));
  expect(out).toEqual(['header yaml.h', 'gfortran', 'cargo (Rust toolchain)', 'a Fortran compiler (CMake)', 'library libopenblas', 'library libxml-2.0 (pkg-config)', 'git (command not found)']);
});

describe('pep517_inprocess: a backend that cannot be imported', () => {
  const build = (pyproject: string): { code: number; out: string } => {
    const root = tree({ 'pyproject.toml': pyproject, 'in_tree/__init__.py': 'import pyti_missing_dependency_of_backend\n' });
    try {
      const out = execFileSync('python3', [join(GUEST, 'pep517_inprocess.py'), root, join(root, 'out')], { env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8', stdio: 'pipe' });
      return { code: 0, out };
    } catch (err) {
      const e = err as { status: number; stdout: string; stderr: string };
      return { code: e.status, out: e.stdout + e.stderr };
    }
  };

  it("the image's backend missing or broken: exit 4, said so (build-fail:toolchain)", () => {
    const r = build('[build-system]\nrequires = ["pyti-backend-x"]\nbuild-backend = "pyti_no_such_backend.api"\n');
    expect(r.code).toBe(4);
    expect(r.out).toContain("pep517: cannot import the build backend: ModuleNotFoundError: No module named 'pyti_no_such_backend'");
  });

  it('an in-tree backend (backend-path) that fails is the package\'s own failure: exit 1', () => {
    const r = build('[build-system]\nrequires = []\nbuild-backend = "in_tree"\nbackend-path = ["."]\n');
    expect(r.code).toBe(1);
    expect(r.out).toContain("No module named 'pyti_missing_dependency_of_backend'");
    expect(r.out).not.toContain('cannot import the build backend');
  });
});
