/**
 * Samples the processes of one task from /proc: count, resident memory and CPU time.
 * A task's processes are those of its own uid (each task slot runs under its own uid), or,
 * when no uid is given, the descendants of its root process.
 */
import { readdirSync, readFileSync } from 'node:fs';

const PAGE = 4096;
const TICKS = 100;

export interface ProcSample {
  pids: number[];
  rssBytes: number;
  /** CPU ms of the processes alive now. */
  cpuMsByPid: Map<number, number>;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  uid: number;
  rssBytes: number;
  cpuMs: number;
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // comm may contain spaces and parentheses: fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    const cpuTicks = Number(rest[11]) + Number(rest[12]);
    const rssPages = Number(rest[21]);
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /\nUid:\s+(\d+)/.exec(status);
    return { pid, ppid, uid: m ? Number(m[1]) : -1, rssBytes: rssPages * PAGE, cpuMs: (cpuTicks * 1000) / TICKS };
  } catch {
    return null; // the process ended while we looked
  }
}

function allProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const info = readProc(Number(name));
    if (info) out.push(info);
  }
  return out;
}

/** Samples the task's processes now. */
export function sampleTask(target: { uid?: number; rootPid?: number }): ProcSample {
  const procs = allProcs();
  let mine: ProcInfo[];
  if (target.uid !== undefined) {
    mine = procs.filter((p) => p.uid === target.uid);
  } else if (target.rootPid !== undefined) {
    const children = new Map<number, ProcInfo[]>();
    for (const p of procs) {
      const list = children.get(p.ppid) ?? [];
      list.push(p);
      children.set(p.ppid, list);
    }
    mine = [];
    const root = procs.find((p) => p.pid === target.rootPid);
    const stack = root ? [root] : [];
    while (stack.length) {
      const p = stack.pop()!;
      mine.push(p);
      for (const c of children.get(p.pid) ?? []) stack.push(c);
    }
  } else {
    mine = [];
  }
  return {
    pids: mine.map((p) => p.pid),
    rssBytes: mine.reduce((s, p) => s + p.rssBytes, 0),
    cpuMsByPid: new Map(mine.map((p) => [p.pid, p.cpuMs])),
  };
}
