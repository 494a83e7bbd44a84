/**
 * Whose activity a trace event is: the audited package's (`package`) or the tooling's that builds,
 * installs and drives it (`tooling`: pip, `python -m build`, ensurepip and venv, setuptools' own
 * modules, PyTI's task scripts). Pure functions of the events and the guest's paths.
 *
 * Processes go by lineage: a process is the package's when it (or an ancestor) ran one of the
 * programs that run the package's own code — the PEP 517 hook runner of pip/build (`_in_process.py`,
 * which imports the backend and so setup.py), PyTI's in-process build (`pep517_inprocess.py`), a
 * `setup.py` (or pip's `-c` setuptools shim), PyTI's import and execute drivers. Everything a package
 * process does stays the package's, whatever it runs (a setup.py that runs pip is the package).
 *
 * Files: a package process's writes are always the package's; its reads and probes of tooling
 * locations (the interpreter's and the tools' own files, PyTI's scripts — not the fallback modules
 * PyTI lends a package's imports) are tooling. A tooling
 * process's operations are the package's only where they are the package's footprint: its source
 * tree, its built wheel, and what installing it puts into a site-packages (its files and its
 * dependencies', not pip's, setuptools' or wheel's).
 *
 * Security: the classification is a reading aid, not a verdict: findings are computed from every
 * event whatever its owner. Paths and argv are untrusted text; they are only matched, never run.
 */
import type { FileOp, TraceEvent } from './trace-events.js';

/** Whose activity it is. */
export type TraceOwner = 'package' | 'tooling';

/** The guest's paths the classification needs (the report's `guest.paths`; defaults as the guest's). */
export interface OwnerPaths {
  work: string;
  tmp: string;
  home?: string;
}

/** Scripts and hook runners in whose process the package's own code runs. */
const PACKAGE_RUNNERS: readonly RegExp[] = [
  /\/(?:pep517|pyproject_hooks)\/(?:_?in_process\/)?_in_process\.py$/,
  /(?:^|\/)pep517_inprocess\.py$/,
  /(?:^|\/)setup\.py$/,
  /(?:^|\/)import_all\.py$/,
  /(?:^|\/)execute_dist\.py$/,
];

/** pip's legacy `python -c "…exec(compile(…setup.py…"` shim runs setup.py. */
const SETUP_SHIM = /setup\.py['"]/;

/** True when an exec's argv runs the package's own code (see PACKAGE_RUNNERS). */
export function runsPackageCode(argv: readonly string[]): boolean {
  for (let i = 1; i < Math.min(argv.length, 6); i++) {
    const a = argv[i]!;
    if (a === '-c') return SETUP_SHIM.test(argv[i + 1] ?? '') && /exec\(|setuptools/.test(argv[i + 1] ?? '');
    if (a === '-m') return false;
    if (a.startsWith('-')) continue;
    return PACKAGE_RUNNERS.some((r) => r.test(a));
  }
  return false;
}

/** Distributions that are the tooling's own when found in a site-packages. */
const TOOLING_DISTS = /^(?:pip|setuptools|wheel|_distutils_hack|pkg_resources|build|pyproject_hooks|pep517|packaging|distutils-precedence\.pth|_virtualenv\.pth|_virtualenv\.py|__pycache__)(?:$|[-.\/])/;

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const dirRe = (d: string): string => escapeRe(d.replace(/\/+$/, ''));

/**
 * The path classifier for one guest layout: `tooling(path)` for locations that belong to the
 * interpreter, the tools and PyTI; `footprint(path)` for the package's own places.
 */
export class OwnerRules {
  private readonly toolingRe: RegExp;
  private readonly footprintRe: RegExp;

  constructor(paths: OwnerPaths) {
    const w = dirRe(paths.work);
    const t = dirRe(paths.tmp);
    this.toolingRe = new RegExp([
      '^/opt/pyti/(?!fallback-modules/)', '^/usr/(?:local/)?lib/python[0-9.]*/', '^/usr/lib/python3/', '^/usr/(?:lib|share)/locale/', '^/usr/(?:bin/)?pyvenv\\.cfg$',
      '/python[0-9.]*\\._pth$', '/pybuilddir\\.txt$', '/python[0-9]+\\.zip$', '^/dev/null$', '^/etc/debian_version$',
      `^${w}/raw(?:/|$)`, `^${w}/data/meta(?:/|$)`, `^${w}/scratch/build/build-view(?:/|$)`, `^${w}/data/venv/pyvenv\\.cfg$`, `^${w}/data/venv/bin/python[0-9.]*$`,
      `^${t}/(?:build-env-|pip-|build-reqs-|tmp[a-z0-9_]{6,}/(?:pip|setuptools|wheel)-[^/]*\\.whl$)`,
      '/\\.cache/pip(?:/|$)', `/site-packages/(?:${TOOLING_DISTS.source.slice(1)})`,
    ].join('|'));
    this.footprintRe = new RegExp([
      `^${w}/scratch/build/src`, `^${w}/data/wheel(?:/|$)`, `^${w}/data/source(?:/|$)`, `^${t}/pip-req-build-`,
      '/site-packages/(?!(?:pip|setuptools|wheel|_distutils_hack|pkg_resources|build|pyproject_hooks|pep517|packaging|distutils-precedence\\.pth|__pycache__)(?:$|[-./]))[^/]',
    ].join('|'));
  }

  /** A location of the interpreter, the build and install tools, or PyTI itself. */
  tooling(path: string): boolean {
    return this.toolingRe.test(path);
  }

  /** A place of the package's own: its source tree, its wheel, its installed files (build envs excluded). */
  footprint(path: string): boolean {
    return this.footprintRe.test(path) && !/\/(?:build-env-|pip-build-env-)[^/]*\//.test(path);
  }

  /** The owner of one file operation by a process of owner `proc`. */
  fileOwner(op: FileOp, path: string, proc: TraceOwner): TraceOwner {
    if (proc === 'package') {
      // Its reads of the tools' own files, and the interpreter's bytecode caches beside them, are the tooling's.
      const toolingFile = this.tooling(path);
      return toolingFile && (op === 'read' || op === 'probe' || path === '/dev/null' || /\/__pycache__(?:\/|$)/.test(path)) ? 'tooling' : 'package';
    }
    return this.footprint(path) ? 'package' : 'tooling';
  }
}

/**
 * Follows the events in order and says whose each process is (see the module comment). Call
 * `observe` on every event, in trace order, then `ownerOf(pid)`.
 */
export class ProcessOwners {
  private readonly owners = new Map<number, TraceOwner>();

  /** Updates the lineage with one event (fork inherits, a package runner's exec makes it the package's). */
  observe(e: TraceEvent): void {
    if (!this.owners.has(e.pid)) this.owners.set(e.pid, e.ppid !== undefined ? this.ownerOf(e.ppid) : 'tooling');
    if (e.kind === 'fork') this.owners.set(e.child, this.ownerOf(e.pid));
    else if (e.kind === 'exec' && e.ok && runsPackageCode(e.argv)) this.owners.set(e.pid, 'package');
  }

  /** The owner of `pid` so far (tooling when never seen). */
  ownerOf(pid: number): TraceOwner {
    return this.owners.get(pid) ?? 'tooling';
  }
}
