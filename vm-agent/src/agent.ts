/**
 * The vm-agent: the process that runs inside the sandbox or VM. It answers `initialize` with its
 * capabilities, runs one plan per `run` request while streaming notifications, and exits on
 * `shutdown` or when the host goes away. It is kept lean: it adds little noise to traces.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { PlanError } from './plan-graph.js';
import { runPlan } from './execution-manager.js';
import { GuestTaskExecutor, type GuestLayout } from './task-executor.js';
import {
  AgentErrorCodes, PROTOCOL_VERSION,
  type AgentHello, type AgentNotifications, type AgentRequests, type HostNotifications, type InitializeParams,
} from './protocol.js';
import { RpcPeer } from './rpc-peer.js';
import { homeAliases } from './slot-users.js';
import { installEmbeddedShims, installShims } from './shim-dir.js';
import { defaultTaskReserveBytes, openTaskCgroups, type TaskCgroups } from './task-cgroup.js';
import { SinkholeNetwork, embeddedSinkholeScript } from './sinkhole.js';
import { AttachHelper } from './attach-helper.js';
import { seedProvidedData } from './provided-data.js';
import { bindWarmTraces, GUEST_BUSYBOX, startWarmPython, type WarmPython } from './warm-python.js';
import type { MessageReader, MessageWriter } from './transport.js';
import { JSONRPCErrorException } from 'json-rpc-2.0';

export const AGENT_VERSION = '0.1.0';

/** The layout the guest images use. */
export const DEFAULT_LAYOUT: GuestLayout = {
  work: '/work', input: '/input', wheelhouse: '/wheelhouse', tasks: '/opt/pyti/tasks', home: '/work/home', tmp: '/tmp', uidBase: 2000,
};

/** Task uids the agent's range covers: `uidBase … uidBase+TASK_UID_SLOTS-1` (a plan runs at most 8 tasks at once). */
export const TASK_UID_SLOTS = 8;

export interface AgentOptions {
  layout: GuestLayout;
  /** JSON file with the image's tool versions. */
  versionsFile?: string;
  maxParallel?: number;
  /**
   * VM guests only: a script that mounts the job's input disk (run once, at the first initialize
   * that is not a warm-up), and whether the agent may set the clock and feed the entropy pool.
   */
  vm?: { attachScript?: string };
  /**
   * Run tasks that ask for it on the sinkhole network (sinkhole.ts): needs root with CAP_NET_ADMIN,
   * nftables and iproute2 in the guest, and task uids (`layout.uidBase`). Set up in the background
   * from the first `initialize` on.
   */
  sinkhole?: boolean;
  /**
   * VM guests: start the warm Python (warm-python.ts) at the agent's start; a warm-up `initialize`
   * waits until it is ready, so the warm template holds it with its imports done. Default: with `vm`.
   */
  warmPython?: boolean;
}

/** Memory kept from the tasks for the warm Python (its imports: about 100 MiB resident under TCG). */
const WARM_PYTHON_RESERVE_BYTES = 160 * 2 ** 20;

/** How long a warm-up `initialize` waits for the warm Python's imports (TCG: a few seconds). */
const WARM_PYTHON_WAIT_MS = 120_000;

/** Starts serving on reader/writer; resolves when the host shuts the agent down or the stream ends. */
export function serveAgent(reader: MessageReader, writer: MessageWriter, opts: AgentOptions): Promise<void> {
  return new Promise((resolve) => {
    const layout = opts.layout;
    let busy = false;
    let primed = false; // `host/prime` ran, or a job began: it runs at most once
    let priming: ChildProcess | undefined; // its Python, stopped when a job begins (it must not slow the job's start)
    const peer: RpcPeer<AgentRequests, Record<string, never>, HostNotifications, AgentNotifications> = new RpcPeer(reader, writer, {
      onClose: () => {
        attacher?.close();
        resolve();
      },
    });
    const warm: WarmPython | undefined = opts.vm && opts.warmPython !== false
      ? startWarmPython((line) => process.stderr.write(`pyti-agent: ${line}\n`), { traceTmpfs: existsSync(GUEST_BUSYBOX) ? GUEST_BUSYBOX : undefined })
      : undefined;
    let warmBound = false;
    let shimsInstalled = false;
    let attaching: Promise<void> | undefined;
    // Started now, so that a job's initialize only hands it the clock (attach-helper.ts).
    const attacher = opts.vm?.attachScript ? new AttachHelper(opts.vm.attachScript) : undefined;
    // A VM guest's bundled agent carries the sinkhole's script: the sinkhole then starts whole at the warm-up.
    const sinkholeScript = opts.sinkhole && opts.vm ? embeddedSinkholeScript() : undefined;
    const sinkhole = opts.sinkhole && layout.uidBase !== undefined
      ? new SinkholeNetwork(sinkholeScript ?? `${layout.tasks}/guest/sinkhole.py`, (line) => process.stderr.write(`pyti-agent: ${line}\n`), undefined,
        { base: layout.uidBase!, count: TASK_UID_SLOTS })
      : undefined;
    const running = new Set<string>();
    // VM guests: tasks run in cgroups of their own, set up at the first run (after any warm restore).
    let cgroups: TaskCgroups | undefined | null = opts.vm ? undefined : null;
    const taskCgroups = (): TaskCgroups | undefined => {
      if (cgroups === undefined) {
        // The warm Python (about 100 MiB resident, outside every task's cgroup) is kept from the tasks' budget too.
        const c = openTaskCgroups(warm ? defaultTaskReserveBytes() + WARM_PYTHON_RESERVE_BYTES : undefined);
        if ('unavailable' in c) {
          process.stderr.write(`pyti-agent: task cgroups unavailable (${c.unavailable}); limits enforced by sampling only\n`);
          cgroups = null;
        } else {
          process.stderr.write(`pyti-agent: task cgroups on; tasks may hold ${Math.round(c.tasksMemoryBytes / 2 ** 20)} MiB in all\n`);
          cgroups = c;
        }
      }
      return cgroups ?? undefined;
    };
    peer.onNotification('host/wake', () => undefined); // its effect is the guest kernel's (see HostNotifications)
    peer.onNotification('host/prime', () => {
      if (!opts.vm || primed) return;
      primed = true;
      priming = primeTranslationCache((line) => process.stderr.write(`pyti-agent: ${line}\n`));
    });
    peer.onRequest('initialize', async (params): Promise<AgentHello> => {
      if (opts.vm && params.warmup) {
        // The template is saved once this answer is sent: with the warm Python ready and the sinkhole
        // running (its rules, routes and process; without the bundled script only its rules and routes,
        // the process starting with the job from the job's disk). Measured: a restored guest with the
        // rules in place attaches its job's disk in a third of the time; with the process running too, a
        // job no longer starts the sinkhole's Python (0.6 s under TCG) beside its first tasks.
        await Promise.race([
          Promise.all([warm?.ready, sinkholeScript ? sinkhole?.start() : sinkhole?.prepare()]),
          new Promise((r) => setTimeout(r, WARM_PYTHON_WAIT_MS).unref()),
        ]);
        // What every job's first `run` would do that depends on no job, done once here and saved with
        // the template (measured under TCG: about 0.45 s a job, between the hello and the first task):
        // the work, home and tmp directories on the scratch disk, the shims the bundle carries, the warm
        // Python's traces bound there, and the tasks' cgroups.
        prepareLayout(layout, false);
        shimsInstalled = installEmbeddedShims(layout) !== undefined;
        if (warm && !warmBound) {
          warmBound = true;
          bindWarmTraces(`${layout.work}/warm-trace`);
        }
        taskCgroups();
      }
      if (opts.vm && !params.warmup) {
        primed = true;
        if (priming && priming.exitCode === null && priming.signalCode === null) priming.kill('SIGKILL');
        const t0 = process.hrtime.bigint();
        mixEntropy(params);
        const clock = clockToSet(params);
        // One waiting process sets the clock and mounts the input disk (a static busybox shell), once.
        const attachesNow = attacher !== undefined && !attaching;
        if (attacher) {
          attaching ??= attacher.attach(clock);
          await attaching.catch((err: Error) => {
            throw new JSONRPCErrorException(`cannot attach the job's input disk: ${err.message}`, AgentErrorCodes.internal);
          });
          if (attachesNow) process.stderr.write(`pyti-agent: job attached in ${Number((process.hrtime.bigint() - t0) / 1000n) / 1000} ms\n`);
        }
        if (!attachesNow && clock) spawnSync('date', ['-u', '-s', clock], { stdio: 'ignore', timeout: 10000 });
      }
      // In the background: the first sinkhole task waits for it. At a VM's warm-up without the bundled
      // script only its rules (above): the script is then on the job's disk (a failed start saved into
      // the warm template failed every job's). Once this answer is on its way: its first spawn forks the
      // agent (tens of ms under TCG).
      if (!(opts.vm && params.warmup)) setImmediate(() => void sinkhole?.start());
      let tools: Record<string, string | null> = {};
      let python = 'unknown';
      let platform: string = process.platform;
      let machine: string = process.arch;
      try {
        const v = JSON.parse(readFileSync(opts.versionsFile ?? '/opt/pyti/image-versions.json', 'utf8')) as Record<string, string | null>;
        python = String(v.python);
        platform = String(v.platform);
        machine = String(v.machine);
        delete v.python; delete v.platform; delete v.machine;
        tools = v;
      } catch {
        /* an image without a versions file still works */
      }
      return {
        protocolVersion: PROTOCOL_VERSION, agentVersion: AGENT_VERSION, python, platform, machine, tools,
        maxParallel: opts.maxParallel ?? 8,
        capabilities: { network: sinkhole ? ['none', 'sinkhole'] : ['none'] },
        paths: {
          home: layout.home, homeAliases: homeAliases(layout.home, layout.uidBase),
          work: layout.work, input: layout.input, wheelhouse: layout.wheelhouse, tmp: layout.tmp,
        },
      };
    });
    peer.onRequest('run', async ({ plan }) => {
      if (busy) throw new JSONRPCErrorException('a plan is already running', AgentErrorCodes.busy);
      busy = true;
      try {
        prepareLayout(layout, !shimsInstalled);
        if (warm && !warmBound) {
          warmBound = true;
          bindWarmTraces(`${layout.work}/warm-trace`);
        }
        // Data the host provides (e.g. inspect's, run in the host's sandbox) is in place before any task starts.
        if (plan.provided?.length) seedProvidedData(layout, plan.provided);
        const executor = new GuestTaskExecutor(layout, {
          output: (id, stream, text) => peer.notify('task/output', { id, stream, text }),
          raw: (id, name, offset, data, final) => peer.notify('task/raw', { id, name, offset, data: data.toString('base64'), final }),
        }, taskCgroups(), sinkhole);
        // VM guests log a stalled event loop to the console (captured in the report): evidence when a
        // guest misbehaves under emulation. Only then: console writes are synchronous and go through
        // the same virtio driver as the channel.
        const stallWatch = opts.vm ? watchEventLoop((line) => process.stderr.write(`pyti-agent: ${line}\n`)) : undefined;
        try {
          return await runPlan(plan, executor, {
            started: (id, startedAt) => {
              running.add(id);
              peer.notify('task/started', { id, startedAt });
            },
            finished: (result) => {
              running.delete(result.id);
              peer.notify('task/finished', { result });
            },
          });
        } finally {
          if (stallWatch) clearInterval(stallWatch);
        }
      } catch (err) {
        if (err instanceof PlanError) throw new JSONRPCErrorException(err.message, AgentErrorCodes.invalidPlan, { problems: err.problems });
        throw new JSONRPCErrorException(String((err as Error).message ?? err), AgentErrorCodes.internal);
      } finally {
        busy = false;
        running.clear();
      }
    });
    peer.onRequest('ping', () => ({ running: [...running] }));
    peer.onRequest('shutdown', () => {
      setImmediate(() => {
        writer.end();
        resolve();
      });
      return { ok: true as const };
    });
  });
}

/**
 * A VM guest restored from a snapshot wakes with the snapshot's clock and entropy state: it takes the
 * host's clock (`date -s` of this: `@SECONDS`, whole seconds as busybox's date wants them, so within
 * half a second; undefined when the clocks agree within a second).
 */
function clockToSet(params: InitializeParams): string | undefined {
  if (typeof params.clockMs === 'number' && Number.isFinite(params.clockMs) && Math.abs(Date.now() - params.clockMs) > 1000) {
    return `@${Math.round(params.clockMs / 1000)}`;
  }
  return undefined;
}

/** Mixes the host's random bytes into a VM guest's entropy pool. Best effort: a failure here is not fatal. */
function mixEntropy(params: InitializeParams): void {
  if (typeof params.entropy === 'string' && params.entropy.length <= 700) {
    try {
      appendFileSync('/dev/urandom', Buffer.from(params.entropy, 'base64'));
    } catch {
      /* not fatal */
    }
  }
}

/** The guest's work, home and tmp directories, and (`shims`, from the job's tasks directory) its shims. */
function prepareLayout(L: GuestLayout, shims = true): void {
  for (const d of [L.work, `${L.work}/data`, `${L.work}/raw`, `${L.work}/scratch`]) mkdirSync(d, { recursive: true, mode: 0o755 });
  for (const d of [L.home, L.tmp]) {
    if (!existsSync(d)) mkdirSync(d, { recursive: true });
    // Shared by the task uids, like /tmp: sticky, so no task deletes another's files.
    chmodSync(d, 0o1777);
  }
  if (!shims) return;
  try {
    installShims(L); // {shims}: exec-able in VMs too, where the tasks directory is mounted noexec
  } catch {
    /* tasks then use {tasks}/guest/winshims */
  }
}

/** What the prime's Python imports: the task helpers' common modules (see `host/prime`). */
const PRIME_SCRIPT = 'import base64, hashlib, json, os, re, shutil, subprocess, sys, tempfile, zipfile';

/**
 * Runs the prime of a pooled VM guest (`host/prime`): the image's python3 as `nobody`, with no job
 * data anywhere yet; in the background, its end logged. Best effort: a failure costs nothing but time.
 * Returns its process (the agent kills it when a job begins before it is done), if it started.
 */
function primeTranslationCache(log: (line: string) => void): ChildProcess | undefined {
  const t0 = Date.now();
  log('priming the translation cache (pooled guest)');
  try {
    const child = spawn('python3', ['-c', PRIME_SCRIPT], {
      stdio: 'ignore', uid: 65534, gid: 65534, cwd: '/', env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' },
    });
    child.once('error', (err) => log(`prime failed: ${err.message}`));
    child.once('exit', (code, signal) => log(`primed in ${Date.now() - t0} ms (${signal ?? `exit ${code}`})`));
    return child;
  } catch (err) {
    log(`prime failed: ${(err as Error).message}`);
    return undefined;
  }
}

/** Logs when the agent's event loop was blocked for more than 5 s (checked every second). */
function watchEventLoop(log: (line: string) => void): NodeJS.Timeout {
  let last = Date.now();
  return setInterval(() => {
    const now = Date.now();
    if (now - last > 6000) log(`event loop blocked for ${((now - last - 1000) / 1000).toFixed(1)} s`);
    last = now;
  }, 1000);
}
