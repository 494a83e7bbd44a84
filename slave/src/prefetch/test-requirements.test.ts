/**
 * The test-requirement parsers on the shapes of real projects' files (short excerpts, paraphrased
 * where long): yarl's pytest.ini and requirements/, requests' requirements-dev.txt, attrs' and
 * urllib3's dependency groups, marshmallow's tox extras, setuptools-style setup.cfg and PKG-INFO.
 */
import { parseIni } from './ini.js';
import { logicalLines, parseRequirementFile, resolveIncluded, selfReference } from './requirement-file.js';
import { pluginModuleDistribution, pytestPluginRequirements, shellSplit } from './pytest-plugins.js';
import { checkTomlTables, collectTestRequirements, toxFactorMatches, wantedTestMember, type TestSources } from './test-requirements.js';
import { pipMissingNames, withoutVersion } from './test-prefetch.js';

/** yarl's pytest.ini (abridged): comments and blank lines inside the multi-line addopts. */
const YARL_PYTEST_INI = `[pytest]
addopts =
  # \`pytest-xdist\`:
  --numprocesses=auto

  # Show 10 slowest invocations:
  --durations=10

  # Report all the things == -rxXs:
  -ra

  # Pre-load the \`pytest-cov\` plugin early:
  -p pytest_cov

  # \`pytest-cov\`:
  --cov
  --cov-config=.coveragerc
  --cov-context=test
  --strict-markers

doctest_optionflags = ALLOW_UNICODE ELLIPSIS

filterwarnings =
  error

  # FIXME: drop this once \`pytest-cov\` is updated.
  ignore:The --rsyncdir command line argument and rsyncdirs config variable are deprecated.:DeprecationWarning
junit_family = xunit1
`;

const sources = (files: Record<string, string>, toml: TestSources['toml'] = {}): TestSources => ({ files: new Map(Object.entries(files)), toml, python: '3.11' });
const collect = (files: Record<string, string>, toml: TestSources['toml'] = {}): [string, string, string?][] =>
  collectTestRequirements(sources(files, toml)).candidates.map((c) => (c.extra ? [c.requirement, c.source, c.extra] : [c.requirement, c.source]));
const PKG_INFO = (name: string, extra = ''): string => `Metadata-Version: 2.1\nName: ${name}\nVersion: 1.0\n${extra}\nlong description\n`;

describe('INI files, the way configparser reads them', () => {
  it('keeps continuation lines, drops comment lines inside a value, splits on the first = or :', () => {
    const ini = parseIni(YARL_PYTEST_INI);
    const addopts = ini.get('pytest')!.get('addopts')!;
    expect(addopts.split('\n').filter(Boolean)).toEqual(['--numprocesses=auto', '--durations=10', '-ra', '-p pytest_cov', '--cov', '--cov-config=.coveragerc', '--cov-context=test', '--strict-markers']);
    expect(addopts.startsWith('\n')).toBe(true); // the key line's empty value
    expect(ini.get('pytest')!.get('doctest_optionflags')).toBe('ALLOW_UNICODE ELLIPSIS');
    expect(ini.get('pytest')!.get('filterwarnings')!.split('\n').filter(Boolean)).toEqual(['error', 'ignore:The --rsyncdir command line argument and rsyncdirs config variable are deprecated.:DeprecationWarning']);
    expect(ini.get('pytest')!.get('junit_family')).toBe('xunit1');
  });

  it('reads tox.ini sections, `;` comments, keys lowercased, `key: value`', () => {
    const ini = parseIni('[tox]\nenvlist = lint,py{39,310,311}\n\n; dev only\n[testenv]\nExtras = tests\ncommands: pytest {posargs}\n[testenv:lint]\ndeps = pre-commit~=3.5\nskip_install = true\n');
    expect(ini.get('testenv')).toEqual(new Map([['extras', 'tests'], ['commands', 'pytest {posargs}']]));
    expect(ini.get('testenv:lint')!.get('deps')).toBe('pre-commit~=3.5');
    expect(ini.get('tox')!.get('envlist')).toBe('lint,py{39,310,311}');
  });

  it('ignores what configparser would refuse, and does not strip inline comments', () => {
    const ini = parseIni('stray = 1\n[a]\nnot an option\nk = v # not a comment\n[a]\nj = 2\n');
    expect(ini.has('stray')).toBe(false);
    expect(ini.get('a')).toEqual(new Map([['k', 'v # not a comment'], ['j', '2']]));
  });
});

describe('pip requirement files', () => {
  it('reads requests\' requirements-dev.txt: the project itself with an extra, and pinned tools', () => {
    expect(parseRequirementFile('-e .[socks]\npytest>=2.8.0,<9\npytest-cov\npytest-httpbin==2.1.0\nhttpbin~=0.10.0\ntrustme\npylint\nmypy\nwheel\n')).toEqual([
      { kind: 'self', extras: ['socks'] },
      ...['pytest>=2.8.0,<9', 'pytest-cov', 'pytest-httpbin==2.1.0', 'httpbin~=0.10.0', 'trustme', 'pylint', 'mypy', 'wheel'].map((requirement) => ({ kind: 'requirement', requirement })),
    ]);
  });

  it('reads yarl\'s requirements/test.txt: an include, comments, a marker', () => {
    const lines = parseRequirementFile('-r test-cibuildwheel.txt\n# hypothesis is only needed for the property-based tests in\n# tests/test_quoting_hypothesis.py\nhypothesis>=6.165.0\n#\npydantic>=2.13.4; sys_platform == \'linux\'\n');
    expect(lines).toEqual([
      { kind: 'include', path: 'test-cibuildwheel.txt' },
      { kind: 'requirement', requirement: 'hypothesis>=6.165.0' },
      { kind: 'requirement', requirement: "pydantic>=2.13.4; sys_platform == 'linux'" },
    ]);
    expect(resolveIncluded('requirements/test.txt', 'test-cibuildwheel.txt')).toBe('requirements/test-cibuildwheel.txt');
    expect(resolveIncluded('requirements/test.txt', '../../etc/passwd')).toBeNull();
    expect(resolveIncluded('requirements-test.txt', '/etc/passwd')).toBeNull();
  });

  it('joins continuations, drops hashes, options, paths, URLs and environment variables', () => {
    const text = [
      'attrs==23.1.0 \\', '    --hash=sha256:1f28b4522cdc2fb4256ac1a020c78acf9cba2c6b \\', '    --hash=sha256:6279836d581513a26f1bf235f9acd333bc9115683f14f23e',
      '    # via -r requirements/test.in', '--index-url https://example.invalid/simple', '-i https://example.invalid/simple', '--pre', '--extra-index-url=https://x.invalid',
      './vendor/thing', '../sibling', 'https://example.invalid/x.whl', 'git+https://example.invalid/r.git#egg=r', 'local.whl', '-e git+https://example.invalid/r.git#egg=r',
      '${TOKEN}pkg', 'x @ https://example.invalid/x.whl', '-c constraints.txt', '--requirement=base.txt', '-rother.txt', 'pytest  # trailing comment', 'mock#not-a-comment',
    ].join('\n');
    const lines = parseRequirementFile(text);
    expect(lines.filter((l) => l.kind === 'requirement')).toEqual([
      { kind: 'requirement', requirement: 'attrs==23.1.0' }, { kind: 'requirement', requirement: 'x @ https://example.invalid/x.whl' },
      { kind: 'requirement', requirement: 'pytest' }, { kind: 'requirement', requirement: 'mock#not-a-comment' },
    ]);
    expect(lines.filter((l) => l.kind === 'include' || l.kind === 'constraint')).toEqual([
      { kind: 'constraint', path: 'constraints.txt' }, { kind: 'include', path: 'base.txt' }, { kind: 'include', path: 'other.txt' },
    ]);
    expect(lines.filter((l) => l.kind === 'skipped')).toHaveLength(11);
    expect(logicalLines('a \\\nb\n  # c\nd')).toEqual(['a b', 'd']);
  });

  it('recognises the project itself', () => {
    expect(selfReference('.')).toEqual([]);
    expect(selfReference('.[test, docs]')).toEqual(['test', 'docs']);
    expect(selfReference('file:.')).toEqual([]);
    expect(selfReference('./src')).toBeNull();
    expect(selfReference('pkg')).toBeNull();
  });
});

describe('pytest plugins the configuration needs', () => {
  it('reads yarl\'s addopts: -p pytest_cov, --cov…, --numprocesses', () => {
    const ini = parseIni(YARL_PYTEST_INI).get('pytest')!;
    const r = pytestPluginRequirements({ addopts: ini.get('addopts'), keys: [...ini.keys()] });
    expect(r.requirements).toEqual([
      { requirement: 'pytest-xdist', source: 'pytest addopts --numprocesses → pytest-xdist' },
      { requirement: 'pytest-cov', source: 'pytest addopts -p pytest_cov' },
    ]);
  });

  it('--cov=pkg -p no:cacheprovider needs pytest-cov only', () => {
    const ini = parseIni('[pytest]\naddopts = --cov=mypkg --cov-report=term-missing -p no:cacheprovider -p pytester\ntestpaths = tests\n').get('pytest')!;
    expect(pytestPluginRequirements({ addopts: ini.get('addopts'), keys: [...ini.keys()] }).requirements).toEqual([{ requirement: 'pytest-cov', source: 'pytest addopts --cov → pytest-cov' }]);
  });

  it('reads required_plugins, asyncio_mode, timeout and -n 2 --dist loadscope', () => {
    const ini = parseIni('[tool:pytest]\n# parallel across classes\nrequired_plugins = pytest-xdist>=3.5 pytest-mock\naddopts = -n 2 --dist loadscope -p xdist\nasyncio_mode = auto\ntimeout = 300\n').get('tool:pytest')!;
    const r = pytestPluginRequirements({ addopts: ini.get('addopts'), required_plugins: ini.get('required_plugins'), keys: [...ini.keys()] });
    expect(r.requirements.map((x) => [x.requirement, x.source])).toEqual([
      ['pytest-xdist', 'pytest addopts -n → pytest-xdist'], ['pytest-asyncio', 'pytest asyncio_mode → pytest-asyncio'], ['pytest-timeout', 'pytest timeout → pytest-timeout'],
      ['pytest-xdist>=3.5', 'required_plugins'], ['pytest-mock', 'required_plugins'],
    ]);
  });

  it('takes TOML lists as they are, maps plugin modules, leaves the project\'s own alone', () => {
    const r = pytestPluginRequirements({ addopts: ['-ra', '-pno:randomly', '-p', 'tests.plugin', '--timeout=60', '-nauto', '--benchmark-skip', '--doctest-plus'], keys: [] });
    expect(r.requirements.map((x) => x.requirement)).toEqual(['pytest-timeout', 'pytest-xdist', 'pytest-benchmark', 'pytest-doctestplus']);
    expect(r.notes).toEqual(['pytest addopts -p tests.plugin: assumed to be the project\'s own module']);
    expect(pluginModuleDistribution('pytest_httpx')).toBe('pytest-httpx');
    expect(pluginModuleDistribution('anyio')).toBe('anyio');
    expect(pluginModuleDistribution('no:xdist')).toBeNull();
    expect(shellSplit(`-k "not slow and not net" --cov 'a b'\n-x`)).toEqual(['-k', 'not slow and not net', '--cov', 'a b', '-x']);
  });
});

describe('tox factors', () => {
  it('matches py311 and unconditioned lines only', () => {
    expect(toxFactorMatches('pytest', '3.11')).toBeNull();
    expect(toxFactorMatches('py311: pytest-asyncio', '3.11')).toEqual({ matches: true, rest: 'pytest-asyncio' });
    expect(toxFactorMatches('py38: mock', '3.11')!.matches).toBe(false);
    expect(toxFactorMatches('py3{10,11,12}: x', '3.11')!.matches).toBe(true);
    expect(toxFactorMatches('py38,py39: x', '3.11')!.matches).toBe(false);
    expect(toxFactorMatches('!py38: x', '3.11')!.matches).toBe(true);
    expect(toxFactorMatches('django32: django>=3.2,<4', '3.11')!.matches).toBe(false);
    expect(toxFactorMatches('py311-django: x', '3.11')!.matches).toBe(false);
    expect(toxFactorMatches('pytest>=7; python_version < "3.8"', '3.11')).toBeNull();
  });
});

describe('collecting the declared test requirements', () => {
  it('attrs: the tests dependency group, include-group, pytest-xdist from its tox default', () => {
    // attrs' [dependency-groups] (abridged), as the guest's tomllib hands it over.
    const toml = {
      pyproject: checkTomlTables({
        name: 'attrs',
        groups: {
          mypy: [{ include: 'tests' }, 'pytest-mypy-plugins; platform_python_implementation == "CPython" and python_version >= "3.10"'],
          tests: ['cloudpickle; platform_python_implementation == "CPython"', 'hypothesis', 'pympler', 'pytest>9', 'pytest-xdist[psutil]'],
          cov: [{ include: 'tests' }, 'coverage[toml]'],
          dev: [{ include: 'tests' }, 'ruff>=0.16'],
        },
      }),
    };
    expect(collect({ 'PKG-INFO': PKG_INFO('attrs'), 'tox.ini': '[testenv]\npackage = wheel\ndependency_groups =\n    tests: tests\n    mypy: mypy\ncommands =\n    tests: pytest {posargs:-n auto}\n' }, toml)).toEqual([
      ['cloudpickle; platform_python_implementation == "CPython"', 'dependency-group:tests'], ['hypothesis', 'dependency-group:tests'], ['pympler', 'dependency-group:tests'],
      ['pytest>9', 'dependency-group:tests'], ['pytest-xdist[psutil]', 'dependency-group:tests'],
    ]);
  });

  it('urllib3: the test group, not dev', () => {
    const toml = { pyproject: checkTomlTables({ name: 'urllib3', groups: { test: ['h2>=4.1.0', 'pytest>=8.3.4', 'pytest-timeout>=2.3.1'], 'dev-base': [{ include: 'test' }, 'coverage>=7.8.0'], dev: [{ include: 'dev-base' }, 'trustme>=1.2.1'] } }) };
    expect(collect({ 'PKG-INFO': PKG_INFO('urllib3') }, toml).map((c) => c[0])).toEqual(['h2>=4.1.0', 'pytest>=8.3.4', 'pytest-timeout>=2.3.1']);
  });

  it('marshmallow: tox installs the tests extra; its dev extra names the project itself', () => {
    const toml = { pyproject: checkTomlTables({ name: 'marshmallow', optional: { docs: ['sphinx==8.1.3'], tests: ['pytest', 'simplejson'], dev: ['marshmallow[tests]', 'tox', 'pre-commit>=3.5,<5.0'] } }) };
    expect(collect({ 'tox.ini': '[tox]\nenvlist = lint,py{39,310,311,312,313},docs\n\n[testenv]\nextras = tests\ncommands = pytest {posargs}\n\n[testenv:docs]\nextras = docs\n' }, toml)).toEqual([
      ['pytest', 'extra:tests', 'tests'], ['simplejson', 'extra:tests', 'tests'],
    ]);
  });

  it('requests-style sdist: PKG-INFO extras, requirements-dev.txt used when nothing test-specific exists, -e .[socks] its extra', () => {
    const pkgInfo = PKG_INFO('requests', 'Requires-Dist: charset_normalizer<4,>=2\nProvides-Extra: socks\nRequires-Dist: PySocks!=1.5.7,>=1.5.6; extra == "socks"\nProvides-Extra: use-chardet-on-py3\nRequires-Dist: chardet<6,>=3.0.2; extra == "use-chardet-on-py3"');
    expect(collect({ 'PKG-INFO': pkgInfo, 'requirements-dev.txt': '-e .[socks]\npytest>=2.8.0,<9\npytest-cov\n', 'setup.cfg': '[tool:pytest]\naddopts = -p no:cacheprovider --doctest-modules\n' })).toEqual([
      ['PySocks!=1.5.7,>=1.5.6; extra == "socks"', 'extra:socks', 'socks'], ['pytest>=2.8.0,<9', 'requirements-dev.txt'], ['pytest-cov', 'requirements-dev.txt'],
    ]);
  });

  it('tox.ini deps: -r{toxinidir}/requirements-test.txt, factors, substitutions, section references, constraints', () => {
    const files = {
      'PKG-INFO': PKG_INFO('demo'),
      'tox.ini': [
        '[tox]', 'envlist = py{38,39,310,311}', '', '[base]', 'deps =', '    freezegun', '', '[testenv]', 'deps =', '    -r{toxinidir}/requirements-test.txt', '    -c{toxinidir}/constraints.txt',
        '    py38: mock', '    py311: tomli-w', '    {[base]deps}', '    {env:EXTRA_DEP:}', '    .[speedups]', 'commands = pytest {posargs}', '[pytest]', 'addopts = --timeout 30',
      ].join('\n'),
      'requirements-test.txt': 'pytest>=7\n-r requirements/common.txt\n',
      'requirements/common.txt': 'responses\n',
      'constraints.txt': 'responses==0.23.1\nfreezegun==1.2.2\n',
      'setup.cfg': '[options.extras_require]\nspeedups =\n    ujson\ntest = file: requirements-test.txt\n',
    };
    expect(collect(files)).toEqual([
      ['pytest>=7', 'extra:test', 'test'], // setup.cfg's `file:` reads the file's requirement lines (setuptools follows no -r)
      ['pytest>=7', 'requirements-test.txt'], ['responses==0.23.1', 'requirements/common.txt'],
      ['tomli-w', 'tox.ini [testenv] deps'], ['freezegun==1.2.2', 'tox.ini [testenv] deps'], ['ujson', 'extra:speedups', 'speedups'],
      ['pytest-timeout', 'pytest addopts --timeout → pytest-timeout'],
    ]);
    const r = collectTestRequirements(sources(files));
    expect(r.notes.some((n) => /EXTRA_DEP/.test(n))).toBe(true);
    expect(r.missing).toEqual([]);
  });

  it('asks for files it would follow but was not given', () => {
    const r = collectTestRequirements(sources({ 'requirements/test.txt': '-r base.txt\n-c ../constraints.txt\n' }));
    expect(r.missing.sort()).toEqual(['constraints.txt', 'requirements/base.txt']);
  });

  it('egg-info requires.txt sections, CI installs next to pytest, setup.cfg [tox:tox]', () => {
    const files = {
      'PKG-INFO': PKG_INFO('oldpkg'),
      'oldpkg.egg-info/requires.txt': 'six\n\n[testing]\npytest\n\n[testing:python_version < "3.8"]\nimportlib_metadata\n\n[cov]\npytest-cov\n\n[docs]\nsphinx\n',
      '.github/workflows/ci.yml': 'jobs:\n  test:\n    steps:\n      - run: python -m pip install -e ".[cov]"\n      - run: python -m pytest\n  docs:\n    steps:\n      - run: pip install .[docs]\n      - run: sphinx-build docs out\n',
      'setup.cfg': '[tox:tox]\nenvlist = py311\n[testenv]\ndeps = pytest-randomly\n',
    };
    expect(collect(files)).toEqual([
      ['pytest', 'extra:testing', 'testing'], ['importlib_metadata; python_version < "3.8"', 'extra:testing', 'testing'], ['pytest-cov', 'extra:cov', 'cov'],
      ['pytest-randomly', 'setup.cfg [testenv] deps'],
    ]);
  });

  it('picks the members it needs', () => {
    for (const p of ['PKG-INFO', 'tox.ini', 'setup.py', 'requirements-test.txt', 'requirements_tests.txt', 'test-requirements.txt', 'requirements/test.txt', 'requirements/tests-ci.txt', 'tests/requirements.txt', 'requirements-dev.txt', 'requirements/dev.txt', 'pkg.egg-info/requires.txt', 'src/pkg.egg-info/requires.txt', '.github/workflows/ci.yml', 'noxfile.py']) {
      expect([p, wantedTestMember(p)]).toEqual([p, true]);
    }
    for (const p of ['pkg/setup.py', 'requirements.txt', 'docs/requirements.txt', 'pkg/tests/requirements.py', 'a/b/tox.ini']) expect([p, wantedTestMember(p)]).toEqual([p, false]);
  });

  it('checks the guest\'s TOML answer for shape', () => {
    expect(checkTomlTables({ name: 3, optional: { test: ['a', 3], ok: ['b'] }, groups: { g: ['x', { include: 'h' }, { nope: 1 }, 5] }, pytest: { keys: ['addopts'], addopts: 7 }, toxLegacy: ['x'] }))
      .toEqual({ optional: { ok: ['b'] }, groups: { g: ['x', { include: 'h' }] }, pytest: { keys: ['addopts'] } });
    expect(checkTomlTables('nonsense')).toEqual({});
  });
});

describe('pip\'s failures', () => {
  it('names the projects pip found nothing for', () => {
    const m = pipMissingNames('ERROR: Could not find a version that satisfies the requirement idx_missing>=1 (from versions: none)\nERROR: No matching distribution found for idx_missing>=1\n');
    expect([...m.keys()]).toEqual(['idx-missing']);
    expect(m.get('idx-missing')).toMatch(/^Could not find a version that satisfies the requirement idx_missing>=1/);
  });
});

describe('relaxing a pin', () => {
  it('drops the version specifier and keeps extras and marker', () => {
    expect(withoutVersion('packaging==22.0')).toBe('packaging');
    expect(withoutVersion('foo[bar, baz] >=1.0,<2 ; python_version < "3.12"')).toBe('foo[bar,baz] ; python_version < "3.12"');
    expect(withoutVersion('Foo_Bar~=1.4')).toBe('Foo_Bar');
    expect(withoutVersion('pytest (>=7)')).toBe('pytest');
  });

  it('leaves what has no specifier or is a direct reference', () => {
    expect(withoutVersion('pretend')).toBeUndefined();
    expect(withoutVersion('mock; python_version < "3.3"')).toBeUndefined();
    expect(withoutVersion('pkg @ https://example.invalid/pkg-1.0.tar.gz')).toBeUndefined();
  });
});
