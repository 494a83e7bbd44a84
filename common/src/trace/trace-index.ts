/**
 * The trace viewer's model of one phase trace: every process (with argv, exit, parent and owner),
 * every file path touched (writes, deletes, renames, chmods, mkdirs, and reads outside routine
 * system locations; probes counted), every network operation — each row with its owner (the
 * package's or the tooling's, see trace-owner.ts) and the trace line that shows it. Unlike the
 * report's summary (process-tree.ts, capped at 5 000 files) it keeps up to `TRACE_INDEX_LIMITS`
 * rows and says how many more there were; `queryTrace` filters and pages it.
 *
 * Security: every string is from the sandbox (untrusted): kept as data, capped in length.
 */
import type { FileOp, TraceEvent } from './trace-events.js';
import { isRoutineRead, type NetEntry } from './process-tree.js';
import { OwnerRules, ProcessOwners, type OwnerPaths, type TraceOwner } from './trace-owner.js';

/** Rows kept per kind (beyond: counted in `dropped`). */
export const TRACE_INDEX_LIMITS = { files: 250_000, processes: 20_000, network: 50_000 } as const;
/** Characters of paths, argv and addresses one index holds at most (a hostile trace of long unique paths stays bounded). */
export const TRACE_INDEX_TEXT_BUDGET = 64 * 1024 * 1024;
const MAX_ARG = 2000;
const MAX_ARGV = 64;
/** Characters of one process's argv kept (the rest cut, `argvTruncated`). */
const MAX_ARGV_CHARS = 8192;

/** argv capped: at most MAX_ARGV arguments of MAX_ARG characters and MAX_ARGV_CHARS in all. */
function capArgv(argv: readonly string[]): { argv: string[]; cut: boolean } {
  const out: string[] = [];
  let total = 0;
  for (const a of argv.slice(0, MAX_ARGV)) {
    const room = MAX_ARGV_CHARS - total;
    if (room <= 0) break;
    const kept = a.slice(0, Math.min(MAX_ARG, room));
    out.push(kept);
    total += kept.length;
  }
  return { argv: out, cut: out.length < argv.length || out.some((a, i) => a.length < argv[i]!.length) };
}

export interface TraceProcessRow {
  pid: number;
  ppid?: number;
  /** argv of the last successful exec, or the parent's (capped: see `argvTruncated`). */
  argv: string[];
  /** True when argv was cut (by strace's string limit or the index's). */
  argvTruncated?: boolean;
  exe?: string;
  owner: TraceOwner;
  /** The line of its first successful exec, else of its first event. */
  line: number;
  exitCode?: number;
  signal?: string;
  children: number[];
}

export interface TraceFileRow {
  path: string;
  ops: FileOp[];
  count: number;
  failed: boolean;
  /** The package's when any operation on it was (see OwnerRules.fileOwner). */
  owner: TraceOwner;
  /** The first line that touched it (the package's first, when it is the package's). */
  line: number;
  pid: number;
}

/** A network row of the index: the report's `NetEntry` without its sequence number, always with its owner. */
export type TraceNetRow = Omit<NetEntry, 'seq' | 'owner'> & { owner: TraceOwner };

/** One phase's rows, in trace order. */
export interface TraceIndex {
  processes: TraceProcessRow[];
  files: TraceFileRow[];
  network: TraceNetRow[];
  /** Rows not kept (the limits). */
  dropped: { processes: number; files: number; network: number };
  /** Stat-like looks at paths (not listed). */
  probes: number;
}

export type TraceKind = 'files' | 'processes' | 'network';

/** The `op` filter's values by kind (see TraceQuery.op). */
export const TRACE_OP_FILTERS: Readonly<Record<TraceKind, readonly string[]>> = {
  files: ['changed', 'write', 'create', 'delete', 'rename', 'chmod', 'mkdir', 'read'],
  processes: [],
  network: ['connect', 'send', 'bind', 'listen'],
};

/**
 * Builds the index of one phase from its events, fed in trace order (`add`), e.g. straight from the
 * streaming parser, so the events need not be held; `finish` returns the index.
 */
export class TraceIndexBuilder {
  private readonly rules: OwnerRules;
  private readonly owners = new ProcessOwners();
  private readonly procs = new Map<number, TraceProcessRow>();
  private readonly files = new Map<string, TraceFileRow>();
  private readonly network: TraceNetRow[] = [];
  private readonly dropped = { processes: 0, files: 0, network: 0 };
  private readonly execed = new Set<number>();
  private probes = 0;
  private text = 0;

  constructor(paths: OwnerPaths) {
    this.rules = new OwnerRules(paths);
  }

  private proc(pid: number, line: number, ppid?: number): TraceProcessRow | undefined {
    let p = this.procs.get(pid);
    if (p) return p;
    if (this.procs.size >= TRACE_INDEX_LIMITS.processes) {
      this.dropped.processes++;
      return undefined;
    }
    const parent = ppid !== undefined ? this.procs.get(ppid) : undefined;
    p = { pid, ppid, argv: parent ? parent.argv : [], exe: parent?.exe, owner: this.owners.ownerOf(pid), line, children: [] };
    this.procs.set(pid, p);
    if (parent && !parent.children.includes(pid)) parent.children.push(pid);
    return p;
  }

  private touch(path: string, op: FileOp, owner: TraceOwner, e: TraceEvent, ok: boolean): void {
    let f = this.files.get(path);
    if (!f) {
      if (this.files.size >= TRACE_INDEX_LIMITS.files || this.text > TRACE_INDEX_TEXT_BUDGET) {
        this.dropped.files++;
        return;
      }
      this.text += Math.min(path.length, 4096);
      f = { path: path.slice(0, 4096), ops: [], count: 0, failed: false, owner, line: e.line, pid: e.pid };
      this.files.set(path, f);
    }
    if (!f.ops.includes(op)) f.ops.push(op);
    f.count++;
    if (!ok) f.failed = true;
    if (owner === 'package' && f.owner !== 'package') Object.assign(f, { owner, line: e.line, pid: e.pid });
  }

  /** Takes the next event (in trace order). */
  add(e: TraceEvent): void {
    const owners = this.owners;
    owners.observe(e);
    const p = this.proc(e.pid, e.line, e.ppid);
    if (p) p.owner = owners.ownerOf(e.pid);
    switch (e.kind) {
      case 'fork': {
        const c = this.proc(e.child, e.line, e.pid);
        if (c) c.owner = owners.ownerOf(e.child);
        break;
      }
      case 'exec':
        if (e.ok && p) {
          const { argv, cut } = this.text > TRACE_INDEX_TEXT_BUDGET ? { argv: [], cut: e.argv.length > 0 } : capArgv(e.argv);
          this.text += argv.reduce((n, a) => n + a.length, 0);
          p.argv = argv;
          if (cut || e.argvTruncated) p.argvTruncated = true;
          else delete p.argvTruncated;
          p.exe = e.path.slice(0, MAX_ARG);
          if (!this.execed.has(e.pid)) p.line = e.line;
          this.execed.add(e.pid);
        }
        break;
      case 'exit':
        if (p) Object.assign(p, { exitCode: e.code, signal: e.signal });
        break;
      case 'file': {
        if (e.op === 'probe') {
          this.probes++;
          break;
        }
        if (e.op === 'read' && e.ok && isRoutineRead(e.path)) break;
        const po = owners.ownerOf(e.pid);
        this.touch(e.path, e.op, this.rules.fileOwner(e.op, e.path, po), e, e.ok);
        if (e.to) this.touch(e.to, e.op, this.rules.fileOwner(e.op, e.to, po), e, e.ok);
        break;
      }
      case 'net':
        if (this.network.length >= TRACE_INDEX_LIMITS.network || this.text > TRACE_INDEX_TEXT_BUDGET) this.dropped.network++;
        else {
          this.text += Math.min(e.address.length, 1024) + Math.min(e.dns?.name.length ?? 0, 1024);
          this.network.push({
            op: e.op, family: e.family, address: e.address.slice(0, 1024), port: e.port, protocol: e.protocol, ok: e.ok, errno: e.errno,
            dns: e.dns && { name: e.dns.name.slice(0, 1024), type: e.dns.type }, pid: e.pid, line: e.line, owner: owners.ownerOf(e.pid),
          });
        }
        break;
      default:
        break;
    }
  }

  /** The index of everything added. */
  finish(): TraceIndex {
    return {
      processes: [...this.procs.values()], files: [...this.files.values()].sort((a, b) => a.line - b.line),
      network: this.network, dropped: { ...this.dropped }, probes: this.probes,
    };
  }
}

/** Builds the index of one phase from its events (in trace order). */
export function buildTraceIndex(events: Iterable<TraceEvent>, paths: OwnerPaths): TraceIndex {
  const b = new TraceIndexBuilder(paths);
  for (const e of events) b.add(e);
  return b.finish();
}

/** What to show of one kind of rows. */
export interface TraceQuery {
  kind: TraceKind;
  /** Only the package's or only the tooling's rows (absent: both). */
  owner?: TraceOwner;
  /** Case-insensitive substring of the path, argv, address or DNS name. */
  q?: string;
  /**
   * Files: an operation the path had (`write`, `create`, `delete`, `rename`, `chmod`, `mkdir`, `read`),
   * or `changed` (any but a read); network: `connect`, `send`, `bind`, `listen`. Not for processes.
   */
  op?: string;
  offset: number;
  limit: number;
}

export type TraceRow = TraceFileRow | TraceProcessRow | TraceNetRow;

/** One page of rows, with the counts a reader needs ("50 of 25 058 shown"). */
export interface TracePage<R extends TraceRow = TraceRow> {
  kind: TraceKind;
  /** Rows of this kind in the index, by owner (before the filters). */
  totals: { all: number; package: number; tooling: number };
  /** Rows that pass the filters. */
  matched: number;
  offset: number;
  limit: number;
  rows: R[];
  /** Rows of this kind that the index did not keep (its limits). */
  dropped: number;
}

/** The text a row is searched by. */
export function rowText(kind: TraceKind, r: TraceRow): string {
  if (kind === 'files') return (r as TraceFileRow).path;
  if (kind === 'processes') {
    const p = r as TraceProcessRow;
    return `${p.pid} ${p.exe ?? ''} ${p.argv.join(' ')}`;
  }
  const n = r as TraceNetRow;
  return `${n.family} ${n.address}${n.port !== undefined ? `:${n.port}` : ''} ${n.dns?.name ?? ''}`;
}

/** Filters and pages one kind of rows of an index. */
export function queryTrace(index: TraceIndex, query: TraceQuery): TracePage {
  const all: TraceRow[] = index[query.kind];
  const pkg = all.filter((r) => r.owner === 'package').length;
  const needle = query.q?.toLowerCase();
  const opOk = (r: TraceRow): boolean => {
    if (!query.op || query.kind === 'processes') return true;
    if (query.kind === 'network') return (r as TraceNetRow).op === query.op;
    const ops = (r as TraceFileRow).ops;
    return query.op === 'changed' ? ops.some((o) => o !== 'read' && o !== 'probe') : ops.includes(query.op as FileOp);
  };
  const matched = all.filter((r) => (!query.owner || r.owner === query.owner) && opOk(r) && (!needle || rowText(query.kind, r).toLowerCase().includes(needle)));
  return {
    kind: query.kind,
    totals: { all: all.length, package: pkg, tooling: all.length - pkg },
    matched: matched.length,
    offset: query.offset,
    limit: query.limit,
    rows: matched.slice(query.offset, query.offset + query.limit),
    dropped: index.dropped[query.kind],
  };
}
