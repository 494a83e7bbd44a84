/**
 * Runs one command under resource limits and reports how it ended.
 *
 * Limits are enforced twice: by rlimits set with prlimit(1) before exec (CPU, processes, address
 * space, no core files) and by sampling /proc every `sampleMs`, which also measures peak memory,
 * processes and CPU over the whole process tree; in a VM guest a third time, by the kernel, through
 * the task's own cgroup (`cgroup`: memory and processes). Whatever ends the command, every process of the
 * task is killed before this returns.
 *
 * Security: when `uid` is given the command runs as that uid with no supplementary groups; it cannot
 * signal or ptrace the caller (a different uid) and owns nothing of the caller's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { LimitKind, TaskLimits } from './plan.js';
import { sampleTask } from './proc-sampler.js';
import type { TaskCgroup } from './task-cgroup.js';
import { launcherArgv, launcherBinary } from './task-launcher.js';

export interface RunRequest {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  limits: TaskLimits;
  /** Run as this uid/gid (requires CAP_SETUID/CAP_SETGID). */
  uid?: number;
  gid?: number;
  /** Called for every chunk of output, until the output limit is reached. */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  sampleMs?: number;
  /** Bytes of output kept for the result's tail. */
  tailBytes?: number;
  /**
   * The task's own cgroup (task-cgroup.ts): the command waits in a shell until it has been moved
   * there, so nothing of the task runs outside it; the kernel then enforces memory and processes.
   */
  cgroup?: TaskCgroup;
  /**
   * With `uid`: a pty as stdin and controlling terminal, and the uid as login uid (task-launcher.ts),
   * so `os.getlogin()` and `isatty(0)` answer as for a user at a terminal. Needs python3 in the guest.
   */
  terminal?: boolean;
  /** 'python' runs the Python launcher even when the compiled one is there (tests compare both). */
  launcher?: 'python';
}

export interface RunOutcome {
  exitCode: number | null;
  signal: string | null;
  /** The limit that ended the command, if one did. */
  limit?: LimitKind;
  /** The command could not be started at all. */
  spawnError?: string;
  startedAt: number;
  durationMs: number;
  cpuMs: number;
  peakMemoryBytes: number;
  peakProcesses: number;
  outputBytes: number;
  outputTail: string;
}

const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));
const LAUNCHER_PYTHON = ['/usr/bin/python3'].find((p) => existsSync(p));

const OOM_MARKERS = /MemoryError|Cannot allocate memory|std::bad_alloc|out of memory/i;
// A shell's own words for a refused fork: the process limit, however few processes a sample caught.
const FORK_REFUSED = /Cannot fork|fork: retry|fork: Resource temporarily unavailable|can't fork/i;
// EAGAIN, which non-blocking I/O raises too: the process limit only when the count was near it.
const EAGAIN_MARKERS = /Resource temporarily unavailable|BlockingIOError: \[Errno 11\]/i;

/** Runs `req.argv` and resolves when it and every process it started have ended. Never rejects. */
export function runLimited(req: RunRequest): Promise<RunOutcome> {
  const { limits } = req;
  const tailBytes = req.tailBytes ?? 64 * 1024;
  // The soft CPU limit sends SIGXCPU (classified as cpu however late a sample comes), the hard one SIGKILL.
  const cpu = Math.ceil(limits.cpuSeconds) + 1;
  const addressSpace = Math.max(limits.memoryBytes * 4, 2 ** 32);
  // RLIMIT_NPROC counts every process of the uid: only meaningful when the task has a uid of its own.
  const nproc = req.uid !== undefined ? limits.processes : undefined;
  // One launcher (task-launcher.ts; compiled, else Python) does the cgroup gate, the rlimits, the
  // terminal and the uid; with neither the older chain does the same without a terminal: sh gate, prlimit, then the uid.
  const binary = req.launcher === 'python' ? undefined : launcherBinary();
  const launched = binary !== undefined || LAUNCHER_PYTHON !== undefined;
  const argv = launched
    ? launcherArgv({ gate: req.cgroup !== undefined, uid: req.uid, gid: req.gid, terminal: req.terminal === true,
      rlimits: { cpuSoft: cpu, cpuHard: cpu + 2, addressSpace, nproc } }, req.argv, LAUNCHER_PYTHON, binary)
    : fallbackArgv(req, cpu, addressSpace, nproc);
  const startedAt = Date.now();
  const t0 = process.hrtime.bigint();
  return new Promise<RunOutcome>((resolve) => {
    let child;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        cwd: req.cwd,
        env: req.env,
        uid: launched ? undefined : req.uid,
        gid: launched ? undefined : req.gid,
        detached: true,
        stdio: req.cgroup ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
      });
      if (req.cgroup) {
        const gate = child.stdio[3] as NodeJS.WritableStream;
        // A launcher that died before reading its go-ahead closes the pipe: not the agent's error.
        gate.on('error', () => undefined);
        try {
          req.cgroup.enter(child.pid!);
        } catch (err) {
          try {
            process.kill(child.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
          throw new Error(`could not move the task into its cgroup: ${(err as Error).message}`);
        }
        gate.end('go\n');
      }
    } catch (err) {
      resolve(emptyOutcome(startedAt, `${(err as Error).message}`));
      return;
    }
    let limit: LimitKind | undefined;
    let outputBytes = 0;
    let tail = '';
    let lastOutput = Date.now();
    let peakMemoryBytes = 0;
    let peakProcesses = 0;
    const cpuByPid = new Map<number, number>();
    let exitCode: number | null = null;
    let signal: string | null = null;
    let exited = false;
    let closed = false;
    let spawnError: string | undefined;
    // Set once a scan after the task's exit found no process of its uid: none can appear after that
    // (only root could take the uid), so later kills and samples would find nothing (each /proc scan
    // costs tens of milliseconds in an emulated guest).
    let cleared = false;

    /** @param noneLeft a sample taken after the exit found no process of the task's uid. */
    const killAll = (noneLeft = false): void => {
      req.cgroup?.kill();
      if (child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* group already gone */
        }
      }
      if (req.uid !== undefined) {
        // kill(-1) as the task's uid reaches every process of that uid, wherever it moved.
        for (let i = 0; i < 20; i++) {
          if ((i === 0 && noneLeft) || sampleTask({ uid: req.uid }).pids.length === 0) {
            cleared = exited;
            break;
          }
          spawnSync('kill', ['-KILL', '--', '-1'], { uid: req.uid, gid: req.gid ?? req.uid, stdio: 'ignore' });
        }
      } else if (child.pid) {
        for (const pid of sampleTask({ rootPid: child.pid }).pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    };
    const hit = (kind: LimitKind): void => {
      if (limit) return;
      limit = kind;
      killAll();
    };

    const sample = (): number => {
      const s = sampleTask(req.uid !== undefined ? { uid: req.uid } : { rootPid: child.pid });
      for (const [pid, ms] of s.cpuMsByPid) cpuByPid.set(pid, Math.max(ms, cpuByPid.get(pid) ?? 0));
      peakMemoryBytes = Math.max(peakMemoryBytes, s.rssBytes);
      peakProcesses = Math.max(peakProcesses, s.pids.length);
      if (exited) return s.pids.length;
      if (s.rssBytes > limits.memoryBytes) hit('memory');
      else if (s.pids.length >= limits.processes) hit('processes');
      else if (totalCpu() > limits.cpuSeconds * 1000) hit('cpu');
      return s.pids.length;
    };
    const totalCpu = (): number => [...cpuByPid.values()].reduce((a, b) => a + b, 0);
    const sampler = setInterval(sample, req.sampleMs ?? 100);
    const firstSample = setTimeout(sample, 15);
    const wallTimer = setTimeout(() => hit('wall-clock'), limits.wallSeconds * 1000);
    const quietTimer = setInterval(() => {
      if (Date.now() - lastOutput > limits.noOutputSeconds * 1000) hit('no-output');
    }, Math.min(1000, limits.noOutputSeconds * 250));

    const onData = (stream: 'stdout' | 'stderr', decoder: StringDecoder) => (chunk: Buffer) => {
      lastOutput = Date.now();
      const room = limits.outputBytes - outputBytes;
      outputBytes += chunk.length;
      if (room > 0) {
        const text = decoder.write(room < chunk.length ? chunk.subarray(0, room) : chunk);
        tail = (tail + text).slice(-tailBytes);
        req.onOutput?.(stream, text);
      }
      // Checked for every chunk, also those past the limit: output that first lands exactly on the
      // limit must still end the task at its next byte (it once flooded on for its whole wall limit).
      if (outputBytes > limits.outputBytes) hit('output-size');
    };
    child.stdout!.on('data', onData('stdout', new StringDecoder('utf8')));
    child.stderr!.on('data', onData('stderr', new StringDecoder('utf8')));

    const finish = (): void => {
      if (!(exited && closed)) return;
      clearInterval(sampler);
      clearTimeout(firstSample);
      clearTimeout(wallTimer);
      clearInterval(quietTimer);
      if (!cleared) {
        sample();
        killAll();
      }
      const durationMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const failed = spawnError !== undefined || exitCode !== 0;
      const kernel = req.cgroup?.events();
      peakMemoryBytes = Math.max(peakMemoryBytes, req.cgroup?.peakMemoryBytes() ?? 0);
      if (!limit && failed) {
        if (signal === 'SIGXCPU') limit = 'cpu';
        else if (kernel && kernel.oomKills > 0) limit = 'memory';
        else if (kernel && kernel.pidsMax > 0) limit = 'processes';
        else if (OOM_MARKERS.test(tail.slice(-4096))) limit = 'memory';
        else if (FORK_REFUSED.test(tail.slice(-4096))) limit = 'processes';
        else if (EAGAIN_MARKERS.test(tail.slice(-4096)) && peakProcesses >= limits.processes - 2) limit = 'processes';
      }
      resolve({
        exitCode,
        signal,
        limit,
        spawnError,
        startedAt,
        durationMs: Math.round(durationMs),
        cpuMs: Math.round(totalCpu()),
        peakMemoryBytes,
        peakProcesses,
        outputBytes,
        outputTail: tail,
      });
    };
    child.on('error', (err) => {
      spawnError = err.message;
      exited = true;
      closed = true;
      finish();
    });
    child.on('exit', (code, sig) => {
      exitCode = code;
      signal = sig;
      exited = true;
      // Whatever the main process left running (daemons, orphans) is ended now, so the pipes close.
      const left = sample();
      killAll(req.uid !== undefined && left === 0);
      finish();
    });
    child.on('close', () => {
      closed = true;
      finish();
    });
  });
}

/** Without python3: waits on fd 3 for the go-ahead (cgroup), sets rlimits with prlimit, execs (the uid is Node's spawn's). */
function fallbackArgv(req: RunRequest, cpu: number, addressSpace: number, nproc: number | undefined): string[] {
  const argv = [...req.argv];
  if (PRLIMIT) {
    const rl = [`--cpu=${cpu}:${cpu + 2}`, '--core=0', `--as=${addressSpace}`];
    if (nproc !== undefined) rl.push(`--nproc=${nproc}`);
    argv.unshift(PRLIMIT, ...rl, '--');
  }
  // Waits for the go-ahead on fd 3 (written once the agent has moved the shell into the cgroup),
  // closes it and becomes the command: the task's first own instruction already runs in the cgroup.
  if (req.cgroup) argv.unshift('/bin/sh', '-c', 'read -r _ <&3 || exit 125; exec 3<&-; exec "$@"', 'pyti-task');
  return argv;
}

function emptyOutcome(startedAt: number, spawnError: string): RunOutcome {
  return {
    exitCode: null, signal: null, spawnError, startedAt, durationMs: 0, cpuMs: 0,
    peakMemoryBytes: 0, peakProcesses: 0, outputBytes: 0, outputTail: '',
  };
}
