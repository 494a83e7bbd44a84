/** Builds the process tree and the file and network tables of one trace from its events. */
import type { FileOp, TraceEvent } from './trace-events.js';
import { OwnerRules, ProcessOwners, type OwnerPaths, type TraceOwner } from './trace-owner.js';

export interface TracedProcess {
  pid: number;
  ppid?: number;
  /** argv of the last successful exec (or inherited from the parent when it never exec'd). */
  argv: string[];
  exe?: string;
  startTime: number;
  endTime?: number;
  exitCode?: number;
  signal?: string;
  children: number[];
  /** The package's or the tooling's (trace-owner.ts; absent in older reports). */
  owner?: TraceOwner;
}

export interface FileEntry {
  path: string;
  ops: FileOp[];
  count: number;
  /** Whether any operation failed (errno set). */
  failed: boolean;
  firstSeq: number;
  /** The package's or the tooling's, and the trace line that first touched it (absent in older reports). */
  owner?: TraceOwner;
  line?: number;
}

export interface NetEntry {
  op: string;
  family: string;
  address: string;
  port?: number;
  protocol?: string;
  ok: boolean;
  errno?: string;
  dns?: { name: string; type: string };
  pid: number;
  seq: number;
  line: number;
  /** The package's or the tooling's (its process's; absent in older reports). */
  owner?: TraceOwner;
}

export interface TraceSummary {
  processes: TracedProcess[];
  /** Every path touched by a non-read operation, and reads outside the usual system locations. */
  files: FileEntry[];
  network: NetEntry[];
  dnsNames: string[];
  /** `probes`: stat-like looks at paths (counted, not listed in `files`). */
  counts: {
    events: number; processes: number; fileReads: number; fileWrites: number; deletes: number; network: number; probes: number;
    /** Distinct paths listed or not, by owner (when owners were computed). */
    filesByOwner?: { package: number; tooling: number };
  };
  /** Paths left out of `files` by its caps (when owners were computed). */
  filesOmitted?: number;
}

/** System locations whose reads are not listed one by one (they are counted). */
const ROUTINE_READ = /^(\/usr\/|\/lib|\/etc\/(ld\.so|localtime|python|pip\.conf|nsswitch|host\.conf|resolv\.conf|hosts|gai\.conf|mime\.types|passwd|group|os-release)|\/proc\/self\/|\/dev\/(null|urandom|random|tty)|\/sys\/)/;
/** True for a read the file tables do not list one by one (system locations: counted only). */
export function isRoutineRead(path: string): boolean {
  return ROUTINE_READ.test(path);
}
const MAX_FILES = 5000;
/** The tooling's paths kept (the package's come first: up to MAX_FILES). */
const MAX_TOOLING_FILES = 1000;
/** Distinct paths counted by owner at most. */
const MAX_COUNTED_PATHS = 1_000_000;
const MAX_NET = 2000;
const MAX_PROCS = 5000;

/**
 * The report's summary of one phase trace. With `paths` (the guest's), every process and path says
 * whose it is (the package's or the tooling's, see trace-owner.ts), up to 5 000 of the package's
 * paths and 1 000 of the tooling's are kept, and the distinct paths of each are counted; without,
 * the first 5 000 paths are kept, as older slaves did.
 */
export function summarizeTrace(events: TraceEvent[], routineRead: (path: string) => boolean = (p) => ROUTINE_READ.test(p), paths?: OwnerPaths): TraceSummary {
  const owners = paths ? new ProcessOwners() : undefined;
  const rules = paths ? new OwnerRules(paths) : undefined;
  const ownerOfPath = new Map<string, TraceOwner>();
  const byOwner = { package: 0, tooling: 0 };
  const kept = { package: 0, tooling: 0 };
  const procs = new Map<number, TracedProcess>();
  const files = new Map<string, FileEntry>();
  const network: NetEntry[] = [];
  const counts = { events: events.length, processes: 0, fileReads: 0, fileWrites: 0, deletes: 0, network: 0, probes: 0 };
  const proc = (pid: number, time: number, ppid?: number): TracedProcess => {
    let p = procs.get(pid);
    if (!p) {
      const parent = ppid !== undefined ? procs.get(ppid) : undefined;
      p = { pid, ppid, argv: parent ? [...parent.argv] : [], exe: parent?.exe, startTime: time, children: [] };
      if (procs.size < MAX_PROCS) procs.set(pid, p);
      if (parent && !parent.children.includes(pid)) parent.children.push(pid);
    }
    return p;
  };
  for (const e of events) {
    owners?.observe(e);
    const p = proc(e.pid, e.time, e.ppid);
    if (owners) p.owner = owners.ownerOf(e.pid);
    switch (e.kind) {
      case 'fork': {
        const c = proc(e.child, e.time, e.pid);
        if (owners) c.owner = owners.ownerOf(e.child);
        break;
      }
      case 'exec':
        if (e.ok) {
          p.argv = e.argv.slice(0, 256).map((a) => a.slice(0, 4096));
          p.exe = e.path;
        }
        break;
      case 'exit':
        p.endTime = e.time;
        p.exitCode = e.code;
        p.signal = e.signal;
        break;
      case 'file': {
        if (e.op === 'probe') {
          // Python stats every sys.path entry: counted, not listed (the probe rules report the telling ones).
          counts.probes++;
          break;
        } else if (e.op === 'read') counts.fileReads++;
        else if (e.op === 'delete') counts.deletes++;
        else counts.fileWrites++;
        if (e.op === 'read' && e.ok && routineRead(e.path)) break;
        for (const path of e.to ? [e.path, e.to] : [e.path]) {
          const owner: TraceOwner | undefined = rules && owners ? rules.fileOwner(e.op, path, owners.ownerOf(e.pid)) : undefined;
          if (owner) {
            const was = ownerOfPath.get(path);
            if (was !== owner && was !== 'package' && ownerOfPath.size < MAX_COUNTED_PATHS) {
              if (was) byOwner[was]--;
              byOwner[owner]++;
              ownerOfPath.set(path, owner);
            }
          }
          let f = files.get(path);
          if (!f) {
            const full = owner === undefined ? files.size >= MAX_FILES : kept[owner] >= (owner === 'package' ? MAX_FILES : MAX_TOOLING_FILES);
            if (full) continue;
            f = { path, ops: [], count: 0, failed: false, firstSeq: e.seq, ...(owner ? { owner, line: e.line } : {}) };
            files.set(path, f);
            if (owner) kept[owner]++;
          } else if (owner === 'package' && f.owner === 'tooling') {
            Object.assign(f, { owner, line: e.line });
            kept.tooling--;
            kept.package++;
          }
          if (!f.ops.includes(e.op)) f.ops.push(e.op);
          f.count++;
          if (!e.ok) f.failed = true;
        }
        break;
      }
      case 'net':
        counts.network++;
        if (network.length < MAX_NET) {
          network.push({
            op: e.op, family: e.family, address: e.address, port: e.port, protocol: e.protocol, ok: e.ok, errno: e.errno, dns: e.dns, pid: e.pid, seq: e.seq, line: e.line,
            ...(owners ? { owner: owners.ownerOf(e.pid) } : {}),
          });
        }
        break;
      default:
        break;
    }
  }
  counts.processes = procs.size;
  const dnsNames = [...new Set(network.filter((n) => n.dns).map((n) => n.dns!.name))];
  if (owners) {
    (counts as TraceSummary['counts']).filesByOwner = byOwner;
    for (const p of procs.values()) p.owner = owners.ownerOf(p.pid);
  }
  return {
    processes: [...procs.values()], files: [...files.values()].sort((a, b) => a.firstSeq - b.firstSeq), network, dnsNames, counts,
    ...(owners ? { filesOmitted: Math.max(0, byOwner.package + byOwner.tooling - files.size) } : {}),
  };
}
