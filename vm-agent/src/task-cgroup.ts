/**
 * Kernel-enforced task limits in a VM guest: one cgroup v2 per task, with `memory.max` and
 * `pids.max` from the task's limits, under a parent cgroup whose `memory.max` keeps a reserve of
 * the guest's memory for the agent and the kernel.
 *
 * Sampling /proc (proc-sampler.ts) sees a task only every few hundred milliseconds, which under
 * emulation (TCG) can be seconds: long enough for a task to allocate past its limit and, with the
 * guest's tmpfs disks already full, to push the whole guest into thrashing, where nothing (not even
 * the agent's timers) runs for minutes. A cgroup stops the allocation at the limit, whatever the
 * load. Sampling stays as the measure of peaks and as the only enforcement where cgroups are not
 * available (the bubblewrap sandbox, where the agent must not touch the host's hierarchy).
 *
 * Security: the cgroup files are root's; a task (another uid) cannot move itself out, raise its
 * limits or write `cgroup.kill`. Tmpfs pages a task writes are charged to its cgroup, and to the
 * parent once the task's cgroup is removed, so files left behind still count against the reserve.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { TaskLimits } from './plan.js';

/** What a task's cgroup saw: the kernel's own counters. */
export interface CgroupEvents {
  /** Processes of the task killed by an OOM killer (its own limit or the parent's). */
  oomKills: number;
  /** Forks refused because the task was at `pids.max`. */
  pidsMax: number;
}

/** One task's cgroup. */
export interface TaskCgroup {
  readonly path: string;
  /** Moves `pid` (and the threads of it) into the cgroup. Throws when the kernel refuses. */
  enter(pid: number): void;
  /** Kills every process in the cgroup at once (`cgroup.kill`). */
  kill(): void;
  events(): CgroupEvents;
  /** The most memory the kernel charged to the task at once (bytes; 0 when unknown). */
  peakMemoryBytes(): number;
  /** Removes the cgroup once it is empty (kills what is left first); never rejects. */
  remove(): Promise<void>;
}

/** Creates task cgroups under one parent. */
export interface TaskCgroups {
  /** The parent's `memory.max` in bytes (what all tasks together may hold). */
  readonly tasksMemoryBytes: number;
  create(taskId: string, limits: TaskLimits): TaskCgroup;
}

const ROOT = '/sys/fs/cgroup';
const PARENT = 'pyti-tasks';

function readCounter(file: string, key: string): number {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function memTotalBytes(): number {
  const m = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'latin1'));
  if (!m) throw new Error('no MemTotal in /proc/meminfo');
  return Number(m[1]) * 1024;
}

/** The memory kept from tasks by default: a quarter of the guest's (`total`, default MemTotal), 192–512 MiB. */
export function defaultTaskReserveBytes(total = memTotalBytes()): number {
  return Math.min(512, Math.max(192, Math.round(total / 4 / 2 ** 20))) * 2 ** 20;
}

/**
 * Sets up the parent cgroup (mounting cgroup2 on /sys/fs/cgroup when nothing is mounted there) and
 * returns the factory, or the reason cgroups cannot be used.
 * Preconditions: runs as root, in a guest the agent owns (never on a host).
 * @param reserveBytes memory kept from tasks for the agent and the kernel (default: a quarter of
 *   the guest's memory, at least 192 MiB and at most 512 MiB).
 */
export function openTaskCgroups(reserveBytes?: number): TaskCgroups | { unavailable: string } {
  try {
    if (process.getuid?.() !== 0) return { unavailable: 'the agent is not root' };
    if (!existsSync(join(ROOT, 'cgroup.controllers'))) {
      const r = spawnSync('mount', ['-t', 'cgroup2', 'cgroup2', ROOT], { encoding: 'utf8', timeout: 10000 });
      if (r.status !== 0) return { unavailable: `cannot mount cgroup2: ${(r.stderr || r.error?.message || '').trim()}` };
    }
    const controllers = readFileSync(join(ROOT, 'cgroup.controllers'), 'latin1').split(/\s+/);
    for (const c of ['memory', 'pids']) if (!controllers.includes(c)) return { unavailable: `no ${c} controller` };
    writeFileSync(join(ROOT, 'cgroup.subtree_control'), '+memory +pids');
    const parent = join(ROOT, PARENT);
    mkdirSync(parent, { recursive: true });
    writeFileSync(join(parent, 'cgroup.subtree_control'), '+memory +pids');
    const total = memTotalBytes();
    const reserve = reserveBytes ?? defaultTaskReserveBytes(total);
    const tasksMemoryBytes = Math.max(64 * 2 ** 20, total - reserve);
    writeFileSync(join(parent, 'memory.max'), String(tasksMemoryBytes));
    let seq = 0;
    return {
      tasksMemoryBytes,
      create(taskId, limits) {
        const path = join(parent, `t${++seq}-${taskId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 60)}`);
        mkdirSync(path);
        writeFileSync(join(path, 'memory.max'), String(Math.max(1, Math.floor(limits.memoryBytes))));
        if (existsSync(join(path, 'memory.swap.max'))) writeFileSync(join(path, 'memory.swap.max'), '0');
        writeFileSync(join(path, 'pids.max'), String(Math.max(1, Math.floor(limits.processes))));
        return taskCgroup(path);
      },
    };
  } catch (err) {
    return { unavailable: (err as Error).message };
  }
}

function taskCgroup(path: string): TaskCgroup {
  const kill = (): void => {
    try {
      writeFileSync(join(path, 'cgroup.kill'), '1');
    } catch {
      /* removed already, or a kernel without cgroup.kill: the caller's kill(-1) still runs */
    }
  };
  return {
    path,
    enter(pid) {
      writeFileSync(join(path, 'cgroup.procs'), String(pid));
    },
    kill,
    events: () => ({ oomKills: readCounter(join(path, 'memory.events'), 'oom_kill'), pidsMax: readCounter(join(path, 'pids.events'), 'max') }),
    peakMemoryBytes() {
      try {
        return Number(readFileSync(join(path, 'memory.peak'), 'latin1').trim()) || 0;
      } catch {
        return 0; // kernels before 5.19 have no memory.peak
      }
    },
    async remove() {
      // Processes killed a moment ago may still be exiting: retry without blocking the agent.
      for (let i = 0; i < 100; i++) {
        try {
          rmdirSync(path);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          kill();
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      process.stderr.write(`pyti-agent: cgroup ${path} could not be removed\n`);
    },
  };
}
