/**
 * The guest's task executor: prepares a task's directories, expands its command's placeholders,
 * runs it under its limits as the slot's unprivileged uid, and sends its raw data to the host.
 *
 * Security: task code owns only its own raw, scratch and produced-data directories. The agent reads
 * raw files with O_NOFOLLOW and only regular files, so a task cannot make the agent read other files
 * through symlinks; sizes are capped before anything is sent.
 */
import { chownSync, closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskResult, TaskSpec, TaskStatus } from './plan.js';
import { runLimited, type RunOutcome } from './process-runner.js';
import type { ExecutionEvents, TaskExecutor } from './execution-manager.js';
import { RAW_CHUNK_BYTES } from './protocol.js';
import type { TaskCgroup, TaskCgroups } from './task-cgroup.js';
import { LAUNCHER_PROCESSES } from './task-launcher.js';
import { SINKHOLE_GID, type SinkholeNetwork } from './sinkhole.js';
import { slotUser } from './slot-users.js';
import { shimsDir } from './shim-dir.js';

/** Where things are inside the guest. */
export interface GuestLayout {
  work: string;
  input: string;
  wheelhouse: string;
  tasks: string;
  home: string;
  tmp: string;
  /** Task slot i runs as uid/gid `uidBase + i`; undefined runs tasks as the agent's own user (tests only). */
  uidBase?: number;
}

export interface TaskIO extends ExecutionEvents {
  output?(id: string, stream: 'stdout' | 'stderr', text: string): void;
  raw?(id: string, name: string, offset: number, data: Buffer, final: boolean): void;
}

export const MAX_RAW_FILE_BYTES = 64 * 1024 * 1024;
export const MAX_RAW_FILES = 32;

/** Expands `{input}`, `{data:key}`, … in one argument. Unknown placeholders are an error. */
export function expandPlaceholders(arg: string, dirs: Record<string, string>): string {
  return arg.replace(/\{([a-z]+(?::[a-z][a-z0-9-]*)?)\}/g, (_, name: string) => {
    const v = dirs[name];
    if (v === undefined) throw new Error(`unknown placeholder {${name}}`);
    return v;
  });
}

export class GuestTaskExecutor implements TaskExecutor {
  /**
   * @param cgroups when given, each task runs in a cgroup of its own (kernel-enforced memory and processes).
   * @param sinkhole when given, tasks with `network: 'sinkhole'` run on it (with gid SINKHOLE_GID).
   */
  constructor(private readonly layout: GuestLayout, private readonly io: TaskIO = {}, private readonly cgroups?: TaskCgroups,
    private readonly sinkhole?: SinkholeNetwork) {}

  dataDir(key: string): string {
    return join(this.layout.work, 'data', key);
  }

  async execute(task: TaskSpec, slot: number, events: ExecutionEvents): Promise<TaskResult> {
    const L = this.layout;
    const uid = L.uidBase === undefined ? undefined : L.uidBase + slot;
    const rawDir = join(L.work, 'raw', task.id);
    const scratch = join(L.work, 'scratch', task.id);
    const dirs: Record<string, string> = {
      input: L.input, wheelhouse: L.wheelhouse, tasks: L.tasks, raw: rawDir, scratch, home: L.home, tmp: L.tmp,
      shims: existsSync(shimsDir(L)) ? shimsDir(L) : join(L.tasks, 'guest', 'winshims'),
    };
    for (const key of [...task.needs, ...task.produces]) dirs[`data:${key}`] = this.dataDir(key);
    let argv: string[];
    let env: Record<string, string>;
    try {
      for (const d of [rawDir, scratch, ...task.produces.map((k) => this.dataDir(k))]) {
        mkdirSync(d, { recursive: true, mode: 0o755 });
        if (uid !== undefined) chownSync(d, uid, uid);
      }
      argv = task.command.map((a) => expandPlaceholders(a, dirs));
      // The slot's user as the image names it: HOME is its home path (a symlink to L.home) when present.
      const user = uid === undefined ? undefined : slotUser(uid);
      const home = user && user.home !== L.home && existsSync(user.home) ? user.home : L.home;
      env = {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        HOME: home,
        ...(user ? { USER: user.name, LOGNAME: user.name } : {}),
        TMPDIR: L.tmp,
        LANG: 'C.UTF-8',
        LC_ALL: 'C.UTF-8',
        PYTHONUNBUFFERED: '1',
        PIP_NO_INDEX: '1',
        PIP_FIND_LINKS: L.wheelhouse,
        PIP_DISABLE_PIP_VERSION_CHECK: '1',
        PIP_NO_INPUT: '1',
        PYTI_TASK: task.id,
      };
      for (const [k, v] of Object.entries(task.env ?? {})) env[k] = expandPlaceholders(v, dirs);
    } catch (err) {
      const r: TaskResult = { id: task.id, status: 'error', reason: `could not prepare task: ${(err as Error).message}`, rawFiles: [] };
      return r;
    }
    const startedAt = Date.now();
    events.started?.(task.id, startedAt);
    let cgroup: TaskCgroup | undefined;
    try {
      // The launcher (task-launcher.ts) stays in the task's cgroup as its parent: one process of
      // PyTI's, not the task's. Without room for it the task's processes met pids.max one short of their
      // limit, the uid's count (what the sampler sees) never reached it, and a fork bomb spun, refused,
      // silent, until its no-output limit (1 200 s in the QEMU conformance suite).
      const limits = uid !== undefined ? { ...task.limits, processes: task.limits.processes + LAUNCHER_PROCESSES } : task.limits;
      cgroup = this.cgroups?.create(task.id, limits);
    } catch (err) {
      return { id: task.id, status: 'error', reason: `could not create the task's cgroup: ${(err as Error).message}`, rawFiles: [] };
    }
    const sinkhole = task.network === 'sinkhole' ? this.sinkhole : undefined;
    const sinkFailure = sinkhole ? await sinkhole.begin() : null;
    const gid = uid !== undefined && sinkhole && sinkFailure === null ? SINKHOLE_GID : uid;
    const outcome = await runLimited({
      argv, cwd: scratch, env, limits: task.limits, uid, gid, cgroup, terminal: uid !== undefined,
      onOutput: (stream, text) => this.io.output?.(task.id, stream, text),
    });
    await cgroup?.remove();
    if (sinkhole) writeAgentFile(join(rawDir, 'sinkhole.jsonl'), (await sinkhole.end()).data);
    const rawFiles = this.sendRaw(task.id, rawDir);
    return toResult(task, outcome, rawFiles);
  }

  /** Sends every regular file of the task's raw directory in chunks; returns their names. */
  private sendRaw(id: string, rawDir: string): string[] {
    let names: string[];
    try {
      names = readdirSync(rawDir).sort().slice(0, MAX_RAW_FILES);
    } catch {
      return [];
    }
    const sent: string[] = [];
    for (const name of names) {
      let fd: number;
      try {
        fd = openSync(join(rawDir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      } catch {
        continue;
      }
      try {
        if (!fstatSync(fd).isFile()) continue;
        const buf = Buffer.alloc(RAW_CHUNK_BYTES);
        let offset = 0;
        for (;;) {
          const want = Math.min(RAW_CHUNK_BYTES, MAX_RAW_FILE_BYTES - offset);
          const n = want > 0 ? readSync(fd, buf, 0, want, offset) : 0;
          const final = n < want || want === 0 || offset + n >= MAX_RAW_FILE_BYTES;
          this.io.raw?.(id, name, offset, buf.subarray(0, n), final);
          offset += n;
          if (final) break;
        }
        sent.push(name);
      } finally {
        closeSync(fd);
      }
    }
    return sent;
  }
}

/**
 * Writes a file of the agent's into a task's raw directory once the task's processes are gone:
 * whatever the task left under that name is removed first and the file is created afresh without
 * following links, so the task cannot point the agent's write elsewhere.
 */
function writeAgentFile(path: string, data: Buffer): void {
  try {
    rmSync(path, { force: true, recursive: true });
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* the raw file is missing: the host reports the task's sinkhole log as absent */
  }
}

const LIMIT_STATUS: Record<string, TaskStatus> = {
  'wall-clock': 'timeout', 'no-output': 'timeout', cpu: 'timeout', memory: 'oom', processes: 'limit', 'output-size': 'limit',
};

/** Maps how a process ended to the task-status taxonomy. */
export function toResult(task: TaskSpec, o: RunOutcome, rawFiles: string[]): TaskResult {
  const passCodes = task.passCodes ?? [0];
  let status: TaskStatus;
  let reason: string | undefined;
  if (o.spawnError) {
    status = 'error';
    reason = `could not start ${task.command[0]}: ${o.spawnError}`;
  } else if (o.limit) {
    status = LIMIT_STATUS[o.limit]!;
    reason = `${o.limit} limit reached`;
  } else if (o.exitCode !== null && passCodes.includes(o.exitCode)) {
    status = 'pass';
  } else {
    status = 'fail';
    reason = o.signal ? `killed by ${o.signal}` : `exit code ${o.exitCode}`;
  }
  return {
    id: task.id, status, reason, limit: o.limit, exitCode: o.exitCode, signal: o.signal,
    startedAt: o.startedAt, durationMs: o.durationMs, cpuMs: o.cpuMs, peakMemoryBytes: o.peakMemoryBytes,
    peakProcesses: o.peakProcesses, outputBytes: o.outputBytes, outputTail: o.outputTail.slice(-16384), rawFiles,
  };
}
