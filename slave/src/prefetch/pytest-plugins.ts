/**
 * The pytest plugins a project's pytest configuration cannot run without, as distributions:
 *
 * - `-p NAME` in `addopts` (not `-p no:NAME`), module names mapped to their distributions for the
 *   common plugins (`xdist` → pytest-xdist, `pytest_cov` → pytest-cov, …), any other `pytest_x` module
 *   guessed as `pytest-x`; dotted and pytest's own modules (the project's or pytest's) need nothing;
 * - options of well-known plugins in `addopts` (`--cov…` → pytest-cov, `-n`/`--numprocesses` →
 *   pytest-xdist, `--timeout` → pytest-timeout, `--reruns` → pytest-rerunfailures, …);
 * - ini options that only a plugin reads (`asyncio_mode` → pytest-asyncio, `timeout` → pytest-timeout,
 *   `DJANGO_SETTINGS_MODULE` → pytest-django, …);
 * - `required_plugins` (distribution names with optional version specifiers, as pytest reads them).
 */

/** A requirement derived from the pytest configuration and where it came from. */
export interface PytestPluginRequirement {
  requirement: string;
  source: string;
}

/** pytest's configuration values that matter here, as read from INI (strings) or TOML (strings or lists). */
export interface PytestConfig {
  addopts?: string | string[];
  required_plugins?: string | string[];
  /** Other ini keys present (lowercased names). */
  keys: string[];
}

/** Plugin module (`-p NAME`) → distribution. */
const MODULES: Record<string, string> = {
  xdist: 'pytest-xdist', 'xdist.plugin': 'pytest-xdist', 'xdist.looponfail': 'pytest-xdist',
  pytest_cov: 'pytest-cov', 'pytest_cov.plugin': 'pytest-cov',
  timeout: 'pytest-timeout', pytest_timeout: 'pytest-timeout',
  pytest_mock: 'pytest-mock', mock: 'pytest-mock',
  asyncio: 'pytest-asyncio', pytest_asyncio: 'pytest-asyncio', 'pytest_asyncio.plugin': 'pytest-asyncio',
  randomly: 'pytest-randomly', pytest_randomly: 'pytest-randomly',
  rerunfailures: 'pytest-rerunfailures', pytest_rerunfailures: 'pytest-rerunfailures',
  pytest_benchmark: 'pytest-benchmark', 'pytest_benchmark.plugin': 'pytest-benchmark',
  pytest_doctestplus: 'pytest-doctestplus', 'pytest_doctestplus.plugin': 'pytest-doctestplus',
  anyio: 'anyio', trio: 'pytest-trio', pytest_trio: 'pytest-trio', 'pytest_trio.plugin': 'pytest-trio',
  pytest_httpbin: 'pytest-httpbin', pytest_httpserver: 'pytest-httpserver', pytest_django: 'pytest-django',
  'pytest_django.plugin': 'pytest-django', pytest_env: 'pytest-env', 'pytest_env.plugin': 'pytest-env',
  pytest_socket: 'pytest-socket', pytest_subtests: 'pytest-subtests', hypothesis: 'hypothesis',
  'hypothesis.extra.pytestplugin': 'hypothesis', forked: 'pytest-forked', pytest_forked: 'pytest-forked',
  pytest_html: 'pytest-html', 'pytest_html.plugin': 'pytest-html', pytest_mypy: 'pytest-mypy',
  pytest_flake8: 'pytest-flake8', pytest_black: 'pytest-black', pytest_ruff: 'pytest-ruff', pytest_isort: 'pytest-isort',
  pytest_remotedata: 'pytest-remotedata', 'pytest_remotedata.plugin': 'pytest-remotedata',
  pytest_mpl: 'pytest-mpl', 'pytest_mpl.plugin': 'pytest-mpl', pytest_arraydiff: 'pytest-arraydiff',
  pytest_freezegun: 'pytest-freezegun', pytest_freezer: 'pytest-freezer', pytest_localserver: 'pytest-localserver',
  syrupy: 'syrupy', pytest_snapshot: 'pytest-snapshot', pytest_order: 'pytest-order', pytest_ordering: 'pytest-ordering',
  pytest_lazyfixture: 'pytest-lazy-fixture', pytest_cases: 'pytest-cases', pytest_instafail: 'pytest-instafail',
  pytest_sugar: 'pytest-sugar', pytest_memray: 'pytest-memray', pytest_codspeed: 'pytest-codspeed',
};

/** pytest's own plugin modules (`-p no:cacheprovider`, `-p pytester`): nothing to install. */
const BUILTIN = new Set([
  'assertion', 'cacheprovider', 'capture', 'debugging', 'doctest', 'faulthandler', 'fixtures', 'freeze_support', 'helpconfig',
  'junitxml', 'legacypath', 'logging', 'main', 'mark', 'monkeypatch', 'nodes', 'nose', 'pastebin', 'pathlib', 'pytester',
  'python', 'python_api', 'python_path', 'recwarn', 'reports', 'runner', 'setuponly', 'setupplan', 'skipping', 'stash',
  'stepwise', 'terminal', 'threadexception', 'tmpdir', 'unittest', 'unraisableexception', 'warnings', 'pytester_assertions',
]);

/** Command-line options → the distribution that defines them (exact names, then prefixes ending in `-`). */
const OPTIONS: [string, string][] = [
  ['--cov', 'pytest-cov'], ['--cov-', 'pytest-cov'], ['--no-cov', 'pytest-cov'], ['--no-cov-on-fail', 'pytest-cov'],
  ['-n', 'pytest-xdist'], ['--numprocesses', 'pytest-xdist'], ['--maxprocesses', 'pytest-xdist'], ['--dist', 'pytest-xdist'], ['--max-worker-restart', 'pytest-xdist'],
  ['--timeout', 'pytest-timeout'], ['--timeout-method', 'pytest-timeout'], ['--timeout_method', 'pytest-timeout'],
  ['--benchmark-', 'pytest-benchmark'], ['--doctest-plus', 'pytest-doctestplus'], ['--doctest-rst', 'pytest-doctestplus'],
  ['--reruns', 'pytest-rerunfailures'], ['--reruns-delay', 'pytest-rerunfailures'], ['--only-rerun', 'pytest-rerunfailures'],
  ['--randomly-', 'pytest-randomly'], ['--mypy', 'pytest-mypy'], ['--flake8', 'pytest-flake8'], ['--black', 'pytest-black'],
  ['--ruff', 'pytest-ruff'], ['--ruff-format', 'pytest-ruff'], ['--html', 'pytest-html'], ['--self-contained-html', 'pytest-html'],
  ['--isort', 'pytest-isort'], ['--pylint', 'pytest-pylint'], ['--mpl', 'pytest-mpl'], ['--mpl-', 'pytest-mpl'],
  ['--asyncio-mode', 'pytest-asyncio'], ['--remote-data', 'pytest-remotedata'], ['--arraydiff', 'pytest-arraydiff'],
  ['--json-report', 'pytest-json-report'], ['--instafail', 'pytest-instafail'], ['--forked', 'pytest-forked'],
  ['--hypothesis-', 'hypothesis'], ['--snapshot-update', 'syrupy'], ['--memray', 'pytest-memray'], ['--codspeed', 'pytest-codspeed'],
  ['--nbval', 'nbval'], ['--nbval-lax', 'nbval'], ['--ds', 'pytest-django'], ['--reuse-db', 'pytest-django'], ['--disable-socket', 'pytest-socket'],
  ['--allow-hosts', 'pytest-socket'], ['--force-sugar', 'pytest-sugar'], ['--doctest-cython', 'pytest-cython'],
];

/** ini keys that only a plugin reads → the plugin. */
const INI_KEYS: Record<string, string> = {
  asyncio_mode: 'pytest-asyncio', asyncio_default_fixture_loop_scope: 'pytest-asyncio', asyncio_default_test_loop_scope: 'pytest-asyncio',
  timeout: 'pytest-timeout', timeout_method: 'pytest-timeout', timeout_func_only: 'pytest-timeout',
  django_settings_module: 'pytest-django', mock_use_standalone_module: 'pytest-mock', doctest_plus: 'pytest-doctestplus',
  env: 'pytest-env', mypy_ini_file: 'pytest-mypy', flake8_max_line_length: 'pytest-flake8', reruns: 'pytest-rerunfailures',
  mpl_baseline_path: 'pytest-mpl', remote_data_strict: 'pytest-remotedata', xfail_strict_plugins: 'pytest-xfail',
};

/** POSIX shell-style splitting (Python's shlex.split without comments). */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let q: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q === "'") {
      if (c === "'") q = null;
      else cur += c;
    } else if (q === '"') {
      if (c === '"') q = null;
      else if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\' || s[i + 1] === '$' || s[i + 1] === '`')) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      q = c;
      has = true;
    } else if (c === '\\' && i + 1 < s.length) {
      if (s[i + 1] !== '\n') cur += s[i + 1];
      i++;
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (has || cur) out.push(cur);
  return out;
}

function optionPlugin(arg: string): string | null {
  const name = arg.split('=')[0]!;
  if (/^-n\S/.test(arg) && !arg.startsWith('--')) return 'pytest-xdist'; // -nauto, -n4
  for (const [opt, dist] of OPTIONS) if (opt.endsWith('-') ? name.startsWith(opt) : name === opt) return dist;
  return null;
}

/** The distribution providing the plugin module `mod` of `-p mod`, or null when none is needed (or known). */
export function pluginModuleDistribution(mod: string): string | null {
  if (mod.startsWith('no:') || BUILTIN.has(mod) || BUILTIN.has(mod.replace(/^_pytest\./, '')) || mod.startsWith('_pytest.')) return null;
  const known = MODULES[mod];
  if (known) return known;
  if (/^pytest_[a-z0-9_]+$/i.test(mod)) return mod.replace(/_/g, '-');
  return null;
}

/** The requirements the pytest configuration `cfg` calls for (see the module comment). */
export function pytestPluginRequirements(cfg: PytestConfig): { requirements: PytestPluginRequirement[]; notes: string[] } {
  const out: PytestPluginRequirement[] = [];
  const notes: string[] = [];
  const add = (requirement: string, source: string): void => {
    if (out.length < 100 && !out.some((r) => r.requirement === requirement)) out.push({ requirement, source });
  };
  const args = (cfg.addopts === undefined ? [] : typeof cfg.addopts === 'string' ? shellSplit(cfg.addopts) : cfg.addopts).slice(0, 1000);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let mod: string | undefined;
    if (a === '-p') mod = args[++i];
    else if (a.startsWith('-p') && !a.startsWith('--')) mod = a.slice(2).replace(/^=/, '');
    if (mod !== undefined) {
      const dist = pluginModuleDistribution(mod);
      if (dist) add(dist, `pytest addopts -p ${mod}`);
      else if (!mod.startsWith('no:') && !BUILTIN.has(mod) && !mod.startsWith('_pytest.')) notes.push(`pytest addopts -p ${mod}: assumed to be the project's own module`);
      continue;
    }
    if (!a.startsWith('-')) continue;
    const dist = optionPlugin(a);
    if (dist) add(dist, `pytest addopts ${a.split('=')[0]} → ${dist}`);
  }
  for (const k of cfg.keys) {
    const dist = INI_KEYS[k.toLowerCase()];
    if (dist) add(dist, `pytest ${k} → ${dist}`);
  }
  const req = cfg.required_plugins === undefined ? [] : typeof cfg.required_plugins === 'string' ? cfg.required_plugins.split(/\s+/) : cfg.required_plugins;
  // pytest reads `required_plugins` as whitespace-separated `name` or `name>=1.0` items (no spaces inside one).
  for (const r of req.slice(0, 100)) if (r.trim()) add(r.trim(), 'required_plugins');
  return { requirements: out, notes };
}
