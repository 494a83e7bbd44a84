/**
 * The package-caused events of one phase trace, as keys that compare across backends: what the
 * trace-parity check (vm-parity.test.ts) requires a VM audit's trace to contain of a bubblewrap
 * audit's. A key says what happened, not when, by which pid or through which syscall:
 *
 * - `write P`, `mkdir P`, `delete P`: a file changed (create, write, truncate, chmod and a rename's
 *   target are `write`; a rename's source is `delete`);
 * - `read P`, `probe P`: a file read (opened for reading) or looked at (stat family, access, chdir);
 * - `exec ARGV…`: a program the package ran (every PATH-search attempt of it gives the same key);
 * - `dns TYPE NAME`, `connect|send|bind|listen resolver` (port 53), `OP FAMILY ADDRESS:PORT/PROTO`,
 *   `OP unix PATH`: the network.
 *
 * Whose events: every process of the import and execute traces (the whole trace is the driver that
 * imports or runs the package: import_all.py, execute_dist.py — so how the task's process starts, exec
 * or fork from a warm interpreter, does not matter); in build and install, the processes that
 * trace-owner.ts calls the package's (the PEP 517 hook runner, PyTI's in-process build, setup.py and
 * all they spawn), plus the tooling's changes to the package's footprint (its files put into a
 * site-packages or a venv's bin/, its built wheel), since those are the package's install-time events
 * whichever installer (pip, PyPA installer) makes them.
 *
 * Left out, because they are the interpreter's or PyTI's, not the package's, and differ by how a task
 * is started (a fresh interpreter or one forked warm), by installer, by bytecode policy or by chance:
 * - reads and probes of system software and the interpreter (/usr, /lib, the routine /etc files,
 *   /proc/self, /sys, /dev/null…: process-tree.ts isRoutineRead), of PyTI and the tools
 *   (trace-owner.ts OwnerRules.tooling: /opt/pyti, the stdlib, pip/setuptools, {work}/raw, the meta
 *   data), of the directories above those places, and the user-site probe of start-up;
 * - in the package's own places (its source tree, its wheel, the venv, PyTI's fallback modules):
 *   probes and failed reads (the import system searching sys.path), and reads of installed metadata
 *   (*.dist-info, *.egg-info in the venv: PyTI's drivers read them); a read of a module's cached
 *   bytecode counts as a read of its source (`x/__pycache__/m.cpython-311.pyc` → `x/m.py`);
 * - bytecode writes (`__pycache__`, `.pyc`), PyTI's outputs ({work}/raw), tempfile's writability test
 *   (a create and delete of `{tmp}/XXXXXXXX`), the installer's own bookkeeping (INSTALLER,
 *   REQUESTED, direct_url.json, and the directories it makes for the files it writes);
 * - the exec of the drivers themselves (PyTI's task scripts, the hook runners: trace-owner.ts
 *   runsPackageCode) and of strace; forks, exits and signals (a child's events are what show it ran).
 *
 * Paths are normalised: the home and its aliases (the slot users' home paths) become `~`, the job's
 * work directory `{work}` and the temporary directory `{tmp}`; random temporary names (`tmpXXXXXXXX`,
 * `.tmp-XXXXXXXX`, `pip-…-XXXXXXXX`, `…XXXXXXXX.tmp`, and mkstemp-style names straight in `{tmp}` such
 * as gcc's `ccXXXXXX.s`) are starred; `/proc/PID/` becomes `/proc/<pid>/`; paths inside arguments too.
 * Outcomes (errno) are left out of the key: a lost event is an absent key, whatever its outcome.
 *
 * Security: traces come from sandboxes; keys are data (capped in length), never run.
 */
import { isRoutineRead, OwnerRules, ProcessOwners, runsPackageCode, type Phase, type TraceEvent } from '@pyti/common';

/** The guest's paths as the report states them (`report.guest.paths`). */
export interface ParityPaths {
  home: string;
  homeAliases?: readonly string[];
  work: string;
  tmp: string;
}

/** Where a key was first seen: the trace line (1-based) and the pid. */
export interface KeyEvidence {
  line: number;
  pid: number;
}

/** A phase's package-caused events: key → where it was first seen. */
export type PackageEvents = Map<string, KeyEvidence>;

const MAX_KEY = 400;
const CHANGE_OPS = new Set(['write', 'create', 'delete', 'rename', 'chmod', 'mkdir']);
/** Installer bookkeeping in a dist-info directory (not the package's files; differ by installer). */
const INSTALLER_FILES = /\.dist-info\/(?:INSTALLER|REQUESTED|direct_url\.json|[^/]*\*\.tmp)$/;

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const trim = (d: string): string => d.replace(/\/+$/, '') || '/';

/** Normalises paths of one guest layout (see the module comment). */
export class PathNormaliser {
  private readonly prefixes: [RegExp, string][];
  constructor(readonly paths: ParityPaths) {
    const homes = [paths.home, ...(paths.homeAliases ?? [])].map(trim).sort((a, b) => b.length - a.length);
    this.prefixes = [
      ...homes.map((h): [RegExp, string] => [new RegExp(`^${esc(h)}(?=/|$)`), '~']),
      [new RegExp(`^${esc(trim(paths.tmp))}(?=/|$)`), '{tmp}'],
      [new RegExp(`^${esc(trim(paths.work))}(?=/|$)`), '{work}'],
    ];
  }

  /** The path with the layout's places named and random parts starred. */
  path(p: string): string {
    let out = p;
    for (const [re, name] of this.prefixes) {
      if (re.test(out)) {
        out = out.replace(re, name);
        break;
      }
    }
    return out
      .replace(/^\/proc\/\d+(?=\/|$)/, '/proc/<pid>')
      .split('/')
      .map((c, i, all) => {
        const named = c
          .replace(/^(tmp|\.tmp-|pip-[a-z-]+?-|build-env-|build-reqs-)[a-z0-9_]{6,}$/, '$1*')
          .replace(/^(.*?)[a-z0-9_]{8}\.tmp$/, '$1*.tmp');
        // Straight in {tmp}: gcc's temporary files are always `cc` and six random letters or digits
        // (ccXXXXXX.s, .res, .o, and the linker's ccXXXXXX.cdtor.o), whatever the six happen to be (all
        // lowercase in about 1 run in 100).
        if (i === 1 && all[0] === '{tmp}' && /^cc[A-Za-z0-9]{6}(?:\.[a-z]+)+$/.test(c)) return c.replace(/^cc[A-Za-z0-9]{6}/, '*');
        // Other mkstemp-style names (tempfile's): a run of 6+ letters and digits with a digit or mixed
        // case in it is random.
        return named === c && i === 1 && all[0] === '{tmp}' ? c.replace(/[A-Za-z0-9_]{6,}/g, (r) => (/\d/.test(r) || (/[a-z]/.test(r) && /[A-Z]/.test(r)) ? '*' : r)) : named;
      })
      .join('/');
  }

  /** An argument of argv: the absolute paths in it (alone or after `=`, `:` or `,`) normalised as `path` does. */
  arg(a: string): string {
    return a.replace(/(^|[=:,])(\/[^\s=:,]*)/g, (_m, pre: string, p: string) => pre + this.path(p));
  }
}

/** The places whose reads are the package's footprint or its imports (kept only as successful reads of files). */
function footprintArea(n: string): boolean {
  return /^\{work\}\/(?:scratch\/build\/src|data\/wheel|data\/venv|data\/source)(?:\/|$)/.test(n)
    || /^\{tmp\}\/pip-req-build-/.test(n)
    || /^\/opt\/pyti\/fallback-modules(?:\/|$)/.test(n);
}

/** Directories that hold the places PyTI and the interpreter use: probing them is the import system's. */
const ANCHORS = [
  '/usr/lib/python3/x', '/usr/local/lib/python3/x', '/opt/pyti/fallback-modules/x', '/opt/pyti/tasks/x',
  '{work}/data/venv/lib/x', '{work}/data/venv/bin/x', '{work}/scratch/build/src/x', '{work}/data/wheel/x', '{work}/data/source/x', '{work}/raw/x',
  '{work}/data/meta/x', '{tmp}/x',
];
const aboveAnchors = (n: string): boolean => n === '/' || ANCHORS.some((a) => a.startsWith(`${n}/`));

/** `x/__pycache__/m.cpython-311[.opt-1].pyc` → `x/m.py`. */
const sourceOfBytecode = (n: string): string => n.replace(/\/__pycache__\/([^/]+?)\.[a-z]+-\d+(?:\.opt-\d)?\.pyc$/, '/$1.py');
const bytecode = (n: string): boolean => /\/__pycache__(?:\/|$)|\.py[co]$/.test(n);

/** The directories on the traced tasks' PATH (tasks/src/audit-tasks.ts TRACED_ENV: the shims first). */
const PATH_DIRS = ['{work}/.pyti-shims', '{work}/.pyti-shims/winshims', '/usr/local/bin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/sbin', '/sbin'];
/** The program name when `n` is a file straight in a PATH directory (or PyTI's shims), else undefined. */
function pathSearch(n: string): string | undefined {
  const slash = n.lastIndexOf('/');
  if (slash < 0) return undefined;
  const dir = n.slice(0, slash);
  return PATH_DIRS.includes(dir) || dir.startsWith('{work}/.pyti-shims/') ? n.slice(slash + 1) : undefined;
}

/** Whether a phase's every process is the package's driver (see the module comment). */
const wholeTraceIsPackage = (phase: Phase): boolean => phase === 'import' || phase === 'execute';

/**
 * The package-caused events of one phase's trace, normalised (see the module comment).
 * Precondition: `events` in trace order, as parseStrace returns them.
 */
export function packageEvents(phase: Phase, events: readonly TraceEvent[], paths: ParityPaths): PackageEvents {
  const norm = new PathNormaliser(paths);
  const rules = new OwnerRules({ work: paths.work, tmp: paths.tmp, home: paths.home });
  const owners = new ProcessOwners();
  const out: PackageEvents = new Map();
  const add = (key: string, e: TraceEvent): void => {
    const k = key.slice(0, MAX_KEY);
    if (!out.has(k)) out.set(k, { line: e.line, pid: e.pid });
  };
  for (const e of events) {
    owners.observe(e);
    const pkg = wholeTraceIsPackage(phase) || owners.ownerOf(e.pid) === 'package';
    switch (e.kind) {
      case 'file': {
        const targets: [string, 'from' | 'to' | 'only'][] = e.op === 'rename' && e.to !== undefined ? [[e.path, 'from'], [e.to, 'to']] : [[e.path, 'only']];
        for (const [raw, role] of targets) {
          const n = norm.path(raw);
          if (CHANGE_OPS.has(e.op)) {
            if (bytecode(n) || /^\{work\}\/raw(?:\/|$)/.test(n) || /^\/dev\/(?:null|tty)$/.test(n) || INSTALLER_FILES.test(n)) continue;
            // tempfile's check that a directory is writable: a random 8-character name straight in {tmp}.
            if (/^\{tmp\}\/[a-z0-9_]{8}$/.test(n) && (e.op === 'create' || e.op === 'delete')) continue;
            if (!pkg) {
              // The tooling's changes count where they put the package's files (not the directories it makes for them).
              const venvBin = /^\{work\}\/data\/venv\/bin\/(?!python|activate|Activate|pip)[^/]+$/.test(n);
              if (e.op === 'mkdir' || !(rules.footprint(raw) || venvBin)) continue;
            }
            const op = e.op === 'delete' || role === 'from' ? 'delete' : e.op === 'mkdir' ? 'mkdir' : 'write';
            add(`${op} ${n}`, e);
            continue;
          }
          // read or probe
          if (!pkg || rules.tooling(raw)) continue;
          const search = pathSearch(n);
          if (search !== undefined) {
            // A shell's search of PATH for a program: what it looked for, wherever PATH points (found: its exec says it).
            if (e.op === 'probe' && !e.ok) add(`probe $PATH/${search}`, e);
            continue;
          }
          if (isRoutineRead(raw) || aboveAnchors(n)) continue;
          if (/^~\/\.local\/lib\/python[0-9.]+\/site-packages$/.test(n)) continue;
          if (footprintArea(n)) {
            if (e.op !== 'read' || !e.ok) continue;
            if (/^\{work\}\/data\/venv\/.*\.(?:dist|egg)-info(?:\/|$)/.test(n)) continue;
            add(`read ${sourceOfBytecode(n)}`, e);
            continue;
          }
          add(`${e.op} ${n}`, e);
        }
        break;
      }
      case 'exec': {
        if (!pkg || runsPackageCode(e.argv) || /(?:^|\/)strace$/.test(e.argv[0] ?? '')) continue;
        if (e.argv.slice(1, 4).some((a) => /^\/opt\/pyti\/tasks\//.test(a))) continue;
        add(`exec ${e.argv.map((a) => norm.arg(a)).join(' ')}`, e);
        break;
      }
      case 'net': {
        if (!pkg) continue;
        if (e.dns) add(`dns ${e.dns.type} ${e.dns.name.toLowerCase()}`, e);
        else if (e.port === 53 && (e.family === 'inet' || e.family === 'inet6')) add(`${e.op} resolver`, e);
        else if (e.family === 'unix') add(`${e.op} unix ${norm.path(e.address)}`, e);
        else add(`${e.op} ${e.family} ${e.address}${e.port !== undefined ? `:${e.port}` : ''}${e.protocol ? `/${e.protocol}` : ''}`, e);
        break;
      }
      default:
        break;
    }
  }
  return out;
}

/** One key of the reference that the candidate lacks, with the reference's evidence. */
export interface MissingEvent {
  phase: Phase;
  key: string;
  evidence: KeyEvidence;
}

/** The reference's keys the candidate lacks, phase by phase, in the reference's trace order. */
export function missingEvents(reference: Map<Phase, PackageEvents>, candidate: Map<Phase, PackageEvents>, phases: readonly Phase[]): MissingEvent[] {
  const missing: MissingEvent[] = [];
  for (const phase of phases) {
    const have = candidate.get(phase) ?? new Map<string, KeyEvidence>();
    for (const [key, evidence] of [...(reference.get(phase) ?? new Map<string, KeyEvidence>())].sort((a, b) => a[1].line - b[1].line)) {
      if (!have.has(key)) missing.push({ phase, key, evidence });
    }
  }
  return missing;
}

/** A readable diff: what `label`'s traces lack of `referenceLabel`'s, with where the reference saw it. */
export function describeMissing(label: string, referenceLabel: string, missing: readonly MissingEvent[], limit = 60): string {
  if (!missing.length) return `${label} traces contain every package-caused event of ${referenceLabel}`;
  const lines = missing.slice(0, limit).map((m) => `  - [${m.phase}] ${m.key}   (${referenceLabel}: ${m.phase}.strace:${m.evidence.line}, pid ${m.evidence.pid})`);
  if (missing.length > limit) lines.push(`  … and ${missing.length - limit} more`);
  return `${label} traces lack ${missing.length} package-caused event(s) that ${referenceLabel}'s have:\n${lines.join('\n')}`;
}
