/**
 * The requirements an sdist declares for its tests, read from its files as data (the archive is
 * never extracted, nothing of it runs), in this order, de-duplicated by normalized name:
 *
 * 1. extras named test / tests / testing, and the extras the project's tox configuration or CI
 *    (GitHub workflows, noxfile.py: an install of `.[x]` near a pytest run) installs, from PKG-INFO's
 *    `Requires-Dist: …; extra == "x"`, pyproject's `[project.optional-dependencies]`, setup.cfg's
 *    `[options.extras_require]` and `*.egg-info/requires.txt`'s `[x]` sections;
 * 2. PEP 735 `[dependency-groups]` test / tests / testing (with `{include-group = …}`), and those tox
 *    installs (`dependency_groups`);
 * 3. requirement files: requirements-test*.txt, requirements_test*.txt, test-requirements.txt,
 *    test_requirements.txt, requirements/test*.txt, requirements/tests*.txt, tests/requirements*.txt,
 *    with their `-r` includes (inside the sdist, depth 5) and `-c` constraints;
 * 4. tox's default `[testenv]` `deps` (tox.ini, setup.cfg with `[tox:tox]`, pyproject's
 *    `[tool.tox] legacy_tox_ini` or `[tool.tox.env_run_base]`, tox.toml): lines without a factor or
 *    whose factors match this Python (`py311`), `{toxinidir}` and `{[section]key}` substituted, lines
 *    with other substitutions skipped;
 * 4b. setup.py's `tests_require` (what `setup.py test` installs; legacy projects declare their test
 *    requirements only there: pyrsistent 0.19.3's `pytest<7`, `hypothesis<7`), read by the guest's `ast`
 *    without running setup.py: a list or tuple of string literals given to `setup(...)`, directly or
 *    through a module-level name assigned one;
 * 5. the pytest plugins the project's pytest configuration needs (pytest-plugins.ts), from the file
 *    pytest itself would read (pytest.ini, .pytest.ini, pyproject's `[tool.pytest.ini_options]`,
 *    tox.ini `[pytest]`, setup.cfg `[tool:pytest]`).
 *
 * The `dev` dependency group and dev-requirements.txt / requirements-dev.txt / requirements/dev*.txt
 * are read only when none of the sources above (1-4) declares anything.
 *
 * The project itself (`-e .[test]`, `name[tests]`) stands for its extras; its bare name is dropped, and
 * so are test runners and release tools (RUNNER_TOOLS: tox, nox, …), which the tests do not import.
 * Markers are evaluated by the guest's `packaging` for the guest's interpreter (an extra's marker with
 * the extra set): requirements whose marker is false are dropped, an extra's requirement loses its
 * marker, others keep theirs. Every result passes screenRequirements.
 *
 * Security: TOML, setup.py and requirement strings are parsed by the guest's Python inside the guest sandbox
 * without network; its answers are checked for shape and size. INI files and requirement files are
 * parsed here (ini.ts, requirement-file.ts). Everything is capped: 1 MiB a file, 200 files, 3 reads
 * of the archive, 1 000 candidate and 300 final requirements.
 */
import { PytiError } from '@pyti/vm-agent';
import { readArchiveMembers } from '../input/archive-members.js';
import { parseCoreMetadata } from '@pyti/common';
import { runInGuest } from './guest-python.js';
import { parseIni, valueLines, type IniFile } from './ini.js';
import { pytestPluginRequirements, type PytestConfig } from './pytest-plugins.js';
import { parseRequirementFile, resolveIncluded, selfReference } from './requirement-file.js';
import { screenRequirements } from './requirements.js';

/** What readTestRequirements found: `sources[i]` says where `requirements[i]` came from. */
export interface DeclaredTestRequirements {
  /** PEP 508 strings, screened, one per normalized project name. */
  requirements: string[];
  /** Parallel to `requirements`: `extra:test`, `dependency-group:test`, `requirements/test.txt`, `tox.ini [testenv] deps`, `pytest addopts -p xdist`, `required_plugins`, … */
  sources: string[];
  /** What was skipped or assumed, for the log. */
  notes: string[];
}

/**
 * `<input>/pyti-test-requirements.json`, the host's word to the guest's test task: `requirements` are
 * installed into the test environment from the wheelhouse (`sources[i]` says where `requirements[i]`
 * came from: a declaration, or `pyti` for pytest and coverage); when `unresolved` is not empty the
 * tests are not run (`test-fail:deps` naming them).
 */
export interface TestRequirementsFile {
  requirements: string[];
  unresolved: { requirement: string; reason: string }[];
  sources: string[];
  /** Requirements the index could not give at the declared version, resolved by their bare name instead (in `requirements`). */
  relaxed?: { requirement: string; relaxedTo: string }[];
}

/** The file name of TestRequirementsFile in the job's input directory. */
export const TEST_REQUIREMENTS_FILE = 'pyti-test-requirements.json';

/** A requirement before marker evaluation and de-duplication. */
export interface TestCandidate {
  requirement: string;
  source: string;
  /** The extra it belongs to (markers are evaluated with `extra` set to it). */
  extra?: string;
}

/** The TOML tables the guest extracts (see SCRIPT). */
export interface TomlTables {
  name?: string;
  optional?: Record<string, string[]>;
  groups?: Record<string, (string | { include: string })[]>;
  pytest?: PytestConfig;
  toxLegacy?: string;
  toxNative?: ToxNative;
  error?: string;
}

/** tox 4's native TOML `env_run_base`. */
export interface ToxNative {
  deps?: string[];
  extras?: string[];
  dependency_groups?: string[];
}

/** What the collector reads from the sdist, by path below its top directory. */
export interface TestSources {
  files: Map<string, string>;
  /** `pyproject.toml` and `tox.toml`, parsed by the guest. */
  toml: { pyproject?: TomlTables; toxToml?: ToxNative };
  /** setup.py's `tests_require` literals, read by the guest's `ast` (setup.py is never run). */
  testsRequire?: string[];
  /** The guest's `major.minor` (for tox factors). */
  python: string;
}

/** PEP 503 normalization of a project (or extra, group) name. */
export const normalizeRequirementName = (n: string): string => n.trim().replace(/[-_.]+/g, '-').toLowerCase();

const TEST_NAMES = ['test', 'tests', 'testing'];
/**
 * Tools that run a test suite or a release rather than being imported by it (sortedcontainers 2.4.0's
 * `tests_require=['tox']`, xmltodict 0.13.0's `['nose2']`: pytest runs their unittest suites): not
 * installed into the test environment, so their absence never keeps the tests from running. A suite
 * that does import one stops at collection, and that is test-fail:deps naming it.
 */
export const RUNNER_TOOLS: ReadonlySet<string> = new Set(['tox', 'nox', 'detox', 'nose2', 'pytest-runner', 'pre-commit', 'twine', 'check-manifest']);
const MAX_CANDIDATES = 1000;
const MAX_FINAL = 300;
const MAX_DEPTH = 5;

const TEST_FILE = /^(?:requirements[-_]tests?[^/]*|tests?[-_]requirements[^/]*|requirements\/tests?[^/]*|tests?\/requirements[^/]*)\.txt$/i;
const DEV_FILE = /^(?:requirements[-_]dev[^/]*|dev[-_]requirements[^/]*|requirements\/dev[^/]*)\.txt$/i;
const CI_FILE = /^(?:noxfile\.py|\.github\/workflows\/[^/]+\.ya?ml)$/;
const TOP_FILES = new Set(['PKG-INFO', 'pyproject.toml', 'setup.cfg', 'setup.py', 'tox.ini', 'tox.toml', 'pytest.ini', '.pytest.ini']);

/** Whether the collector reads the sdist member at `rel` (path below the top directory) on its first pass. */
export function wantedTestMember(rel: string): boolean {
  return TOP_FILES.has(rel) || TEST_FILE.test(rel) || DEV_FILE.test(rel) || CI_FILE.test(rel) || /^(?:src\/)?[^/]+\.egg-info\/requires\.txt$/.test(rel);
}

/** `name[a,b]` → the normalized name and extras of a requirement string (null when it does not start with a name). */
function nameAndExtras(req: string): { name: string; extras: string[] } | null {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?/.exec(req);
  return m ? { name: normalizeRequirementName(m[1]!), extras: (m[2] ?? '').split(',').map((e) => normalizeRequirementName(e)).filter(Boolean) } : null;
}

/** Extras mentioned in a marker (`extra == "test"`, `'test' == extra`). */
function markerExtras(req: string): string[] {
  const i = req.indexOf(';');
  if (i < 0) return [];
  const out: string[] = [];
  const m = req.slice(i + 1);
  for (const r of [/\bextra\s*==\s*(['"])([^'"]+)\1/g, /(['"])([^'"]+)\1\s*==\s*extra\b/g]) for (const x of m.matchAll(r)) out.push(normalizeRequirementName(x[2]!));
  return out;
}

/** tox's factor condition `py38,py39-django: x` against this Python's factors; null when the line has none. */
export function toxFactorMatches(line: string, python: string): { matches: boolean; rest: string } | null {
  const m = /^([\w{}.!,-]+):\s+(.+)$/.exec(line);
  if (!m) return null;
  const [maj, min] = python.split('.');
  const mine = new Set([`py${maj}${min}`, `py${maj}.${min}`, `${maj}.${min}`, `py${maj}`, 'py']);
  const alternatives: string[] = [];
  // Top-level commas separate alternatives; `{a,b}` expands inside one.
  let depth = 0;
  let cur = '';
  for (const c of m[1]!) {
    if (c === '{') depth++;
    if (c === '}') depth--;
    if (c === ',' && depth === 0) {
      alternatives.push(cur);
      cur = '';
    } else cur += c;
  }
  alternatives.push(cur);
  const expand = (s: string): string[] => {
    const b = /\{([^{}]*)\}/.exec(s);
    if (!b) return [s];
    return b[1]!.split(',').flatMap((part) => expand(s.slice(0, b.index) + part + s.slice(b.index + b[0].length)));
  };
  const matches = alternatives.flatMap(expand).some((alt) => alt.split('-').filter(Boolean).every((f) => (f.startsWith('!') ? !mine.has(f.slice(1)) : mine.has(f))));
  return { matches, rest: m[2]! };
}

/** The collector's state: candidates in order, notes, and files it wanted but had not been given. */
class Collector {
  readonly out: TestCandidate[] = [];
  readonly notes: string[] = [];
  readonly missing = new Set<string>();
  readonly constraints = new Map<string, string>();
  readonly extras = new Map<string, { requirement: string }[]>();
  readonly groups = new Map<string, (string | { include: string })[]>();
  readonly doneExtras = new Set<string>();
  readonly doneGroups = new Set<string>();
  readonly doneFiles = new Set<string>();
  project = '';
  constructor(readonly src: TestSources) {}

  note(n: string): void {
    if (this.notes.length < 200) this.notes.push(n.slice(0, 300));
  }

  /** Adds one requirement string from `source`; the project itself stands for its extras. */
  push(requirement: string, source: string, extra?: string, depth = 0): void {
    if (this.out.length >= MAX_CANDIDATES) return;
    const ne = nameAndExtras(requirement);
    if (ne && this.project && ne.name === this.project) {
      for (const e of ne.extras) this.extra(e, depth + 1);
      return;
    }
    this.out.push(extra ? { requirement: requirement.trim(), source, extra } : { requirement: requirement.trim(), source });
  }

  extra(name: string, depth = 0): void {
    const n = normalizeRequirementName(name);
    if (this.doneExtras.has(n) || depth > MAX_DEPTH) return;
    this.doneExtras.add(n);
    const reqs = this.extras.get(n);
    if (!reqs) {
      this.note(`extra ${JSON.stringify(n)} named by the project's configuration is not declared`);
      return;
    }
    for (const r of reqs) this.push(r.requirement, `extra:${n}`, n, depth);
  }

  group(name: string, depth = 0): void {
    const n = normalizeRequirementName(name);
    if (this.doneGroups.has(n) || depth > MAX_DEPTH) return;
    this.doneGroups.add(n);
    const entries = this.groups.get(n);
    if (!entries) {
      this.note(`dependency group ${JSON.stringify(n)} named by the project's configuration is not declared`);
      return;
    }
    for (const e of entries) {
      if (typeof e === 'string') this.push(e, `dependency-group:${n}`, undefined, depth);
      else this.group(e.include, depth + 1);
    }
  }

  /** Requirement-file lines (a file's, or tox deps'); `-r` paths are relative to `from` (a path below the top). */
  lines(text: string, from: string, source: (file: string) => string, depth: number): void {
    for (const l of parseRequirementFile(text)) {
      if (l.kind === 'requirement') this.push(l.requirement, source(from), undefined, depth);
      else if (l.kind === 'self') for (const e of l.extras) this.extra(e, depth + 1);
      else if (l.kind === 'include' || l.kind === 'constraint') {
        const p = resolveIncluded(from, l.path);
        if (p === null) this.note(`${from}: ${l.kind === 'include' ? '-r' : '-c'} ${l.path} is outside the sdist: not followed`);
        else if (l.kind === 'include') this.file(p, depth + 1);
        else this.constraintFile(p);
      } else this.note(`${from}: skipped ${JSON.stringify(l.line.slice(0, 120))} (${l.why})`);
    }
  }

  file(path: string, depth = 0): void {
    if (this.doneFiles.has(path) || depth > MAX_DEPTH) return;
    const text = this.src.files.get(path);
    if (text === undefined) {
      this.missing.add(path);
      return;
    }
    this.doneFiles.add(path);
    this.lines(text, path, (f) => f, depth);
  }

  constraintFile(path: string): void {
    const text = this.src.files.get(path);
    if (text === undefined) {
      this.missing.add(path);
      return;
    }
    for (const l of parseRequirementFile(text)) {
      if (l.kind !== 'requirement') continue;
      const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([<>=!~][^;]*)/.exec(l.requirement);
      if (m && !this.constraints.has(normalizeRequirementName(m[1]!))) this.constraints.set(normalizeRequirementName(m[1]!), m[2]!.trim());
    }
  }
}

/** The sections of an INI file's default tox environment and how to name them. */
interface ToxIni {
  ini: IniFile;
  label: string;
}

function toxIni(src: TestSources): ToxIni | ToxNative & { label: string } | null {
  const tox = src.files.get('tox.ini');
  if (tox !== undefined) return { ini: parseIni(tox), label: 'tox.ini' };
  const cfg = src.files.get('setup.cfg');
  if (cfg !== undefined) {
    const ini = parseIni(cfg);
    if (ini.has('tox:tox')) return { ini, label: 'setup.cfg' };
  }
  const pp = src.toml.pyproject;
  if (pp?.toxLegacy) return { ini: parseIni(pp.toxLegacy), label: 'pyproject.toml [tool.tox] legacy_tox_ini' };
  if (pp?.toxNative) return { ...pp.toxNative, label: 'pyproject.toml [tool.tox.env_run_base]' };
  if (src.toml.toxToml) return { ...src.toml.toxToml, label: 'tox.toml [env_run_base]' };
  return null;
}

/** `{toxinidir}` and `{[section]key}` substituted; null when another substitution remains. */
function toxSubstitute(line: string, ini: IniFile | null, depth = 0): string[] | null {
  let s = line.replace(/\{(?:toxinidir|tox_root)\}\/?/g, '');
  const ref = /\{\[([^\]]+)\]([^}]+)\}/.exec(s);
  if (ref && ini && depth < 3) {
    const v = ini.get(ref[1]!)?.get(ref[2]!.trim().toLowerCase());
    if (v === undefined) return null;
    return valueLines(v).flatMap((vl) => toxSubstitute(s.slice(0, ref.index) + vl + s.slice(ref.index + ref[0].length), ini, depth + 1) ?? []);
  }
  if (/\{[^}]*\}/.test(s)) return null;
  s = s.trim();
  return s ? [s] : [];
}

/** Values of a tox list option (newline or comma separated), factor conditions applied. */
function toxListOption(value: string | undefined, python: string): string[] {
  const out: string[] = [];
  for (const line of valueLines(value)) {
    const f = toxFactorMatches(line, python);
    if (f && !f.matches) continue;
    out.push(...(f ? f.rest : line).split(',').map((x) => x.trim()).filter(Boolean));
  }
  return out;
}

/** The pytest configuration pytest would read, with its file's name. */
function pytestConfig(src: TestSources): (PytestConfig & { file: string }) | null {
  const fromIni = (file: string, section: string, always: boolean): (PytestConfig & { file: string }) | null => {
    const text = src.files.get(file);
    if (text === undefined) return null;
    const sec = parseIni(text).get(section);
    if (!sec) return always ? { keys: [], file } : null;
    return { addopts: sec.get('addopts'), required_plugins: sec.get('required_plugins'), keys: [...sec.keys()], file };
  };
  return fromIni('pytest.ini', 'pytest', true) ?? fromIni('.pytest.ini', 'pytest', true)
    ?? (src.toml.pyproject?.pytest ? { ...src.toml.pyproject.pytest, file: 'pyproject.toml' } : null)
    ?? fromIni('tox.ini', 'pytest', false) ?? fromIni('setup.cfg', 'tool:pytest', false);
}

/** Extras and dependency groups a CI workflow or noxfile installs next to a pytest run (within 15 lines). */
function ciInstalls(files: Map<string, string>): { extras: string[]; groups: string[] } {
  const extras = new Set<string>();
  const groups = new Set<string>();
  for (const [path, text] of files) {
    if (!CI_FILE.test(path)) continue;
    const lines = text.split(/\r?\n/).slice(0, 5000);
    lines.forEach((line, i) => {
      if (!/install|sync/.test(line) || !lines.slice(i, i + 16).some((l) => /pytest/.test(l))) return;
      for (const m of line.matchAll(/(?:^|[\s"'=])\.\[([A-Za-z0-9_.,\s-]+)\]/g)) for (const e of m[1]!.split(',')) if (e.trim()) extras.add(normalizeRequirementName(e));
      for (const m of line.matchAll(/--extra[= ]([A-Za-z0-9_.-]+)/g)) extras.add(normalizeRequirementName(m[1]!));
      for (const m of line.matchAll(/--group[= ]([A-Za-z0-9_.-]+)/g)) groups.add(normalizeRequirementName(m[1]!));
    });
  }
  return { extras: [...extras].slice(0, 20), groups: [...groups].slice(0, 20) };
}

/** Extras declared by setup.cfg's `[options.extras_require]` (`file:` values read from the sdist). */
function setupCfgExtras(c: Collector, text: string): void {
  const sec = parseIni(text).get('options.extras_require');
  if (!sec) return;
  for (const [key, value] of sec) {
    const [extra, marker] = key.split(':', 2) as [string, string | undefined];
    let reqs: string[];
    const file = /^file:\s*(.+)$/s.exec(value.trim());
    if (file) {
      reqs = [];
      for (const p of file[1]!.split(',').map((x) => x.trim()).filter(Boolean)) {
        const t = c.src.files.get(p);
        if (t === undefined) c.missing.add(p);
        else for (const l of parseRequirementFile(t)) if (l.kind === 'requirement') reqs.push(l.requirement);
      }
    } else reqs = (value.includes('\n') ? value.split('\n') : value.split(';')).map((x) => x.trim()).filter((x) => x && !x.startsWith('#'));
    addExtra(c, extra, reqs.map((r) => (marker ? `${r}; ${marker}` : r)));
  }
}

function addExtra(c: Collector, extra: string, reqs: string[]): void {
  const n = normalizeRequirementName(extra);
  const list = c.extras.get(n) ?? [];
  for (const r of reqs.slice(0, 500)) list.push({ requirement: r });
  c.extras.set(n, list);
}

/** requires.txt's `[extra]` and `[extra:marker]` sections. */
function requiresTxtExtras(c: Collector, text: string): void {
  let extra: string | null = null;
  let marker = '';
  for (const raw of text.split(/\r?\n/).slice(0, 5000)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const s = /^\[(.*)\]$/.exec(line);
    if (s) {
      const [e, m] = s[1]!.split(':', 2);
      extra = e ? e : null;
      marker = m ?? '';
      continue;
    }
    if (extra) addExtra(c, extra, [marker ? `${line}; ${marker}` : line]);
  }
}

/**
 * Collects the candidates from what was read (pure: no I/O). `missing` lists the files it would have
 * followed (`-r`, `-c`, `file:`) but was not given: read them and call again.
 */
export function collectTestRequirements(src: TestSources): { candidates: TestCandidate[]; notes: string[]; missing: string[] } {
  const c = new Collector(src);
  const pkgInfo = src.files.get('PKG-INFO');
  const meta = pkgInfo === undefined ? null : parseCoreMetadata(pkgInfo);
  const pp = src.toml.pyproject;
  if (pp?.error) c.note(pp.error);
  c.project = normalizeRequirementName(meta?.name ?? pp?.name ?? '');

  // Extras: every declaration of them (the same extra may be declared in several of these).
  for (const r of meta?.requiresDist ?? []) for (const e of markerExtras(r)) addExtra(c, e, [r]);
  for (const [k, v] of Object.entries(pp?.optional ?? {})) addExtra(c, k, v);
  const cfg = src.files.get('setup.cfg');
  if (cfg !== undefined) setupCfgExtras(c, cfg);
  for (const [path, text] of src.files) if (/^(?:src\/)?[^/]+\.egg-info\/requires\.txt$/.test(path)) requiresTxtExtras(c, text);
  for (const [k, v] of Object.entries(pp?.groups ?? {})) c.groups.set(normalizeRequirementName(k), v);

  // The default tox environment: its extras, groups, deps.
  const tox = toxIni(src);
  let toxExtras: string[] = [];
  let toxGroups: string[] = [];
  let toxDeps: string[] = [];
  let toxLabel = '';
  if (tox && 'ini' in tox) {
    const env = tox.ini.get('testenv');
    toxLabel = `${tox.label} [testenv] deps`;
    if (env) {
      toxExtras = toxListOption(env.get('extras'), src.python);
      toxGroups = toxListOption(env.get('dependency_groups'), src.python);
      for (const line of valueLines(env.get('deps'))) {
        const f = toxFactorMatches(line, src.python);
        if (f && !f.matches) continue;
        const subst = toxSubstitute(f ? f.rest : line, tox.ini);
        if (subst === null) c.note(`${toxLabel}: skipped ${JSON.stringify(line.slice(0, 120))} (a tox substitution)`);
        else toxDeps.push(...subst);
      }
    }
  } else if (tox) {
    toxLabel = `${tox.label} deps`;
    toxExtras = tox.extras ?? [];
    toxGroups = tox.dependency_groups ?? [];
    toxDeps = (tox.deps ?? []).flatMap((d) => toxSubstitute(d, null) ?? []);
  }
  const ci = ciInstalls(src.files);

  // 1. extras, 2. groups, 3. files, 4. tox deps.
  for (const e of [...TEST_NAMES.filter((n) => c.extras.has(n)), ...toxExtras, ...ci.extras]) c.extra(e);
  for (const g of [...TEST_NAMES.filter((n) => c.groups.has(n)), ...toxGroups, ...ci.groups]) c.group(g);
  const paths = [...src.files.keys()].sort();
  for (const p of paths.filter((x) => TEST_FILE.test(x))) c.file(p);
  if (toxDeps.length) c.lines(toxDeps.join('\n'), '.', (f) => (f === '.' ? toxLabel : f), 0);
  for (const r of src.testsRequire ?? []) c.push(r, 'setup.py tests_require');
  if (!c.out.length) {
    if (c.groups.has('dev')) c.group('dev');
    for (const p of paths.filter((x) => DEV_FILE.test(x))) c.file(p);
    if (c.out.length) c.note('no test-specific requirements declared: the development requirements are used');
  }

  // 5. pytest plugins.
  const pc = pytestConfig(src);
  if (pc) {
    const r = pytestPluginRequirements(pc);
    for (const x of r.requirements) c.push(x.requirement, x.source);
    for (const n of r.notes) c.note(`${pc.file}: ${n}`);
  }

  // Constraints (-c) pin requirements that name no version.
  const candidates = c.out.map((cand) => {
    const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\s*\[[^\]]*\])?\s*(;.*)?$/.exec(cand.requirement);
    const pin = m ? c.constraints.get(normalizeRequirementName(m[1]!)) : undefined;
    return pin && m ? { ...cand, requirement: `${m[1]}${m[2] ?? ''}${pin}${m[3] ? ` ${m[3]}` : ''}` } : cand;
  });
  return { candidates, notes: c.notes, missing: [...c.missing] };
}

const SCRIPT = `
import json, re, sys
inp = json.loads(sys.stdin.read())
out = {'python': '%d.%d' % sys.version_info[:2]}

def strs(v):
    return [x for x in v if isinstance(x, str)][:500] if isinstance(v, list) else None

def ini_options(t):
    if not isinstance(t, dict):
        return None
    r = {'keys': [k for k in t if isinstance(k, str)][:200]}
    for k in ('addopts', 'required_plugins'):
        v = t.get(k)
        if isinstance(v, str) or strs(v) is not None:
            r[k] = v if isinstance(v, str) else strs(v)
    return r

def tox_native(t):
    if not isinstance(t, dict):
        return None
    return {k: strs(t.get(k)) for k in ('deps', 'extras', 'dependency_groups') if strs(t.get(k)) is not None}

def tests_require(text):
    # setup(..., tests_require=[...]) or tests_require=NAME with NAME = [...] at module level; never run.
    import ast
    tree = ast.parse(text)
    assigned = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if not ((isinstance(f, ast.Name) and f.id == 'setup') or (isinstance(f, ast.Attribute) and f.attr == 'setup')):
            continue
        for kw in node.keywords:
            if kw.arg != 'tests_require':
                continue
            v = assigned.get(kw.value.id) if isinstance(kw.value, ast.Name) else kw.value
            try:
                lit = ast.literal_eval(v) if v is not None else None
            except Exception:
                lit = None
            if isinstance(lit, (list, tuple)):
                return [x for x in lit if isinstance(x, str)][:500]
    return []

if inp['mode'] == 'toml':
    import tomllib
    if isinstance(inp.get('setupPy'), str):
        try:
            out['testsRequire'] = tests_require(inp['setupPy'])
        except Exception as e:
            out['testsRequireError'] = ('setup.py: %s: %s' % (type(e).__name__, e))[:300]
    for key, text in inp['files'].items():
        try:
            doc = tomllib.loads(text)
        except Exception as e:
            out[key] = {'error': '%s is not valid TOML: %s' % (key, e)}
            continue
        r = {}
        if key == 'toxToml':
            n = tox_native(doc.get('env_run_base'))
            out[key] = n if n is not None else {}
            continue
        pr = doc.get('project') if isinstance(doc.get('project'), dict) else {}
        if isinstance(pr.get('name'), str):
            r['name'] = pr['name']
        od = pr.get('optional-dependencies')
        if isinstance(od, dict):
            r['optional'] = {k: strs(v) for k, v in od.items() if isinstance(k, str) and strs(v) is not None}
        dg = doc.get('dependency-groups')
        if isinstance(dg, dict):
            r['groups'] = {k: [x if isinstance(x, str) else {'include': x['include-group']} for x in v
                               if isinstance(x, str) or (isinstance(x, dict) and isinstance(x.get('include-group'), str))][:500]
                           for k, v in dg.items() if isinstance(k, str) and isinstance(v, list)}
        tool = doc.get('tool') if isinstance(doc.get('tool'), dict) else {}
        pt = tool.get('pytest') if isinstance(tool.get('pytest'), dict) else None
        if pt is not None:
            io = ini_options(pt.get('ini_options')) if 'ini_options' in pt else ini_options(pt)
            if io is not None:
                r['pytest'] = io
        tx = tool.get('tox') if isinstance(tool.get('tox'), dict) else None
        if tx is not None:
            if isinstance(tx.get('legacy_tox_ini'), str):
                r['toxLegacy'] = tx['legacy_tox_ini']
            elif tox_native(tx.get('env_run_base')) is not None:
                r['toxNative'] = tox_native(tx.get('env_run_base'))
        out[key] = r
else:
    try:
        from packaging.requirements import Requirement
    except ImportError:
        from pip._vendor.packaging.requirements import Requirement
    res = []
    for item in inp['items']:
        try:
            req = Requirement(item['req'])
            keep = True
            if req.marker is not None:
                keep = bool(req.marker.evaluate({'extra': item.get('extra') or ''}))
                if item.get('extra') and 'extra' in str(req.marker):
                    req.marker = None
                    item['req'] = str(req)
            res.append({'keep': keep, 'name': re.sub(r'[-_.]+', '-', req.name).lower(), 'req': item['req']})
        except Exception as e:
            res.append({'error': ('%s: %s' % (type(e).__name__, e))[:300]})
    out['items'] = res
print(json.dumps(out))
`;

async function guest<T>(rootfs: string, input: unknown, signal: AbortSignal | undefined): Promise<T> {
  const r = await runInGuest(['python3', '-I', '-c', SCRIPT], { rootfs, stdin: JSON.stringify(input), timeoutMs: 60_000, signal, maxOutputBytes: 4 * 1024 * 1024 });
  try {
    const v = JSON.parse(r.stdout.trim()) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as T;
  } catch {
    /* below */
  }
  throw new PytiError('PYTI_PREFETCH_FAILED', `reading the test requirements in the guest failed: ${(r.stderr.trim() || r.stdout.trim()).slice(-500)}`);
}

const isStrings = (v: unknown, max = 500): v is string[] => Array.isArray(v) && v.length <= max && v.every((x) => typeof x === 'string' && x.length <= 2000);

/** The guest's answer for one TOML file, checked for shape (anything else is dropped). */
export function checkTomlTables(v: unknown): TomlTables {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
  const o = v as Record<string, unknown>;
  const t: TomlTables = {};
  if (typeof o.error === 'string') t.error = o.error.slice(0, 500);
  if (typeof o.name === 'string' && o.name.length <= 200) t.name = o.name;
  if (typeof o.optional === 'object' && o.optional !== null) {
    t.optional = {};
    for (const [k, x] of Object.entries(o.optional).slice(0, 200)) if (isStrings(x)) t.optional[k] = x;
  }
  if (typeof o.groups === 'object' && o.groups !== null) {
    t.groups = {};
    for (const [k, x] of Object.entries(o.groups).slice(0, 200)) {
      if (!Array.isArray(x)) continue;
      const entries: (string | { include: string })[] = [];
      for (const e of x.slice(0, 500) as unknown[]) {
        if (typeof e === 'string' && e.length <= 2000) entries.push(e);
        else if (typeof e === 'object' && e !== null && typeof (e as { include?: unknown }).include === 'string') entries.push({ include: (e as { include: string }).include.slice(0, 200) });
      }
      t.groups[k] = entries;
    }
  }
  if (typeof o.pytest === 'object' && o.pytest !== null) {
    const p = o.pytest as Record<string, unknown>;
    const pc: PytestConfig = { keys: isStrings(p.keys) ? p.keys : [] };
    for (const k of ['addopts', 'required_plugins'] as const) {
      const x = p[k];
      if ((typeof x === 'string' && x.length <= 64 * 1024) || isStrings(x, 1000)) pc[k] = x as string | string[];
    }
    t.pytest = pc;
  }
  if (typeof o.toxLegacy === 'string' && o.toxLegacy.length <= 1024 * 1024) t.toxLegacy = o.toxLegacy;
  const tn = checkToxNative(o.toxNative);
  if (tn) t.toxNative = tn;
  return t;
}

function checkToxNative(v: unknown): ToxNative | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const t: ToxNative = {};
  for (const k of ['deps', 'extras', 'dependency_groups'] as const) if (isStrings(o[k])) t[k] = o[k] as string[];
  return t;
}

/** Reads the test requirements of the sdist at `distPath` (see the module comment); a wheel has none. */
export async function readTestRequirements(distPath: string, rootfs: string, signal?: AbortSignal): Promise<DeclaredTestRequirements> {
  if (/\.whl$/i.test(distPath)) return { requirements: [], sources: [], notes: [] };
  const first = await readArchiveMembers(distPath, wantedTestMember);
  const files = first.files;
  const notes: string[] = [];
  if (first.skipped) notes.push(`${first.skipped} configuration or requirement files were too large (or too many) to read`);
  const tomlFiles: Record<string, string> = {};
  if (files.has('pyproject.toml')) tomlFiles.pyproject = files.get('pyproject.toml')!;
  if (files.has('tox.toml')) tomlFiles.toxToml = files.get('tox.toml')!;
  const t = await guest<Record<string, unknown>>(rootfs, { mode: 'toml', files: tomlFiles, setupPy: files.get('setup.py') }, signal);
  const python = typeof t.python === 'string' && /^\d+\.\d+$/.test(t.python) ? t.python : '3.11';
  const src: TestSources = { files, python, toml: {} };
  if (isStrings(t.testsRequire)) src.testsRequire = t.testsRequire;
  if (typeof t.testsRequireError === 'string') notes.push(`tests_require not read: ${t.testsRequireError.slice(0, 300)}`);
  if (tomlFiles.pyproject !== undefined) src.toml.pyproject = checkTomlTables(t.pyproject);
  if (tomlFiles.toxToml !== undefined) src.toml.toxToml = checkToxNative(t.toxToml) ?? {};

  let collected = collectTestRequirements(src);
  for (let pass = 0; collected.missing.length && pass < 2; pass++) {
    const want = new Set(collected.missing);
    const more = await readArchiveMembers(distPath, (rel) => want.has(rel));
    let added = 0;
    for (const [k, v] of more.files) if (!files.has(k) && files.size < 200) (files.set(k, v), added++);
    if (!added) break;
    collected = collectTestRequirements(src);
  }
  notes.push(...collected.notes);
  for (const m of collected.missing) notes.push(`${m}: named by the project's configuration but not in the sdist (or too large)`);

  const items = collected.candidates.slice(0, MAX_CANDIDATES);
  const evaluated = items.length ? await guest<{ items?: unknown }>(rootfs, { mode: 'eval', items: items.map((i) => ({ req: i.requirement, extra: i.extra ?? '' })) }, signal) : { items: [] };
  const results = Array.isArray(evaluated.items) && evaluated.items.length === items.length ? evaluated.items as unknown[] : null;
  if (!results) throw new PytiError('PYTI_PREFETCH_FAILED', 'the guest did not evaluate the test requirements');

  const seen = new Set<string>();
  const kept: string[] = [];
  const sources: string[] = [];
  let falseMarkers = 0;
  const runners = new Set<string>();
  results.forEach((r, i) => {
    const cand = items[i]!;
    const o = (typeof r === 'object' && r !== null ? r : {}) as { keep?: unknown; name?: unknown; req?: unknown; error?: unknown };
    if (typeof o.error === 'string') return void notes.push(`${cand.source}: ${JSON.stringify(cand.requirement.slice(0, 120))} is not a valid requirement (${o.error.slice(0, 200)})`);
    if (typeof o.name !== 'string' || typeof o.req !== 'string' || typeof o.keep !== 'boolean' || o.req.length > 2000) return;
    if (!o.keep) return void falseMarkers++;
    if (RUNNER_TOOLS.has(o.name)) return void runners.add(o.name);
    if (seen.has(o.name) || o.name === normalizeRequirementName(parseCoreMetadata(files.get('PKG-INFO') ?? '')?.name ?? '\0')) return;
    const s = screenRequirements([o.req]);
    if (s.refused.length) return void notes.push(`${cand.source}: ${JSON.stringify(s.refused[0]!.requirement)} refused: ${s.refused[0]!.reason}`);
    if (kept.length >= MAX_FINAL) return;
    seen.add(o.name);
    kept.push(s.accepted[0]!);
    sources.push(cand.source);
  });
  if (falseMarkers) notes.push(`${falseMarkers} requirements do not apply to this interpreter (markers)`);
  if (runners.size) notes.push(`left out, a test runner or release tool rather than a test requirement: ${[...runners].join(', ')}`);
  return { requirements: kept, sources, notes: notes.slice(0, 200) };
}
