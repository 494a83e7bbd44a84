/**
 * The agent protocol: one typed method table, imported by both ends (host and guest).
 *
 * The host sends requests (`initialize`, `run`, `ping`, `shutdown`); the agent answers them and streams
 * notifications (`task/started`, `task/output`, `task/raw`, `task/finished`, `log`) while a plan runs.
 * Framing is one JSON-RPC 2.0 message a line (see transport.ts).
 *
 * Security: the host must treat every message from the agent as untrusted input: a package
 * running in the guest may have compromised it. Size caps and shape checks live on the host side.
 */
import type { Plan, RunResult, TaskNetwork, TaskResult } from './plan.js';

export const PROTOCOL_VERSION = 1;

/** What the agent can do and what it runs on; the answer to `initialize`. */
export interface AgentHello {
  protocolVersion: number;
  agentVersion: string;
  python: string;
  platform: string;
  machine: string;
  /** Versions of the tools in the image (pip, pytest, pylint, …). */
  tools: Record<string, string | null>;
  /** Highest `plan.parallel` the agent accepts. */
  maxParallel: number;
  /** What the agent can give tasks: the `TaskSpec.network` values it knows (absent: `none` only). */
  capabilities?: { network: TaskNetwork[] };
  /** Paths inside the guest the host needs to interpret traces. */
  paths: {
    home: string; work: string; input: string; wheelhouse: string; tmp: string;
    /** Other paths of the home (the slot users' /home/<name>, symlinks to `home`): strace may show either. */
    homeAliases?: string[];
  };
}

export interface InitializeParams {
  hostVersion: string;
  /**
   * Answer without attaching the job's inputs: the host is about to snapshot this idle, booted
   * guest as the template that later jobs are restored from (VM backends). Default false.
   */
  warmup?: boolean;
  /** The host's clock (ms since the epoch): a VM guest restored from a snapshot sets its clock from it. */
  clockMs?: number;
  /** Fresh random bytes (base64, at most 512) mixed into a restored guest's entropy pool. */
  entropy?: string;
}

export interface RunParams {
  plan: Plan;
}

/** The answer to `ping`: the agent is alive, and these tasks are running. */
export interface PingResult {
  running: string[];
}

export interface TaskStartedParams {
  id: string;
  startedAt: number;
}
export interface TaskOutputParams {
  id: string;
  stream: 'stdout' | 'stderr';
  text: string;
}
/** One chunk of one raw-data file; chunks of a file arrive in order, `offset` counts bytes. */
export interface TaskRawParams {
  id: string;
  name: string;
  offset: number;
  /** base64 of the chunk's bytes. */
  data: string;
  final: boolean;
}
export interface TaskFinishedParams {
  result: TaskResult;
}
export interface LogParams {
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** Requests the host sends to the agent: method name → [params, result]. */
export interface AgentRequests {
  initialize: [InitializeParams, AgentHello];
  run: [RunParams, RunResult];
  /** Answered at once, also while a plan runs: the host's liveness check on a quiet channel. */
  ping: [Record<string, never>, PingResult];
  shutdown: [Record<string, never>, { ok: true }];
}

/** Notifications the agent sends to the host: method name → params. */
export interface AgentNotifications {
  'task/started': TaskStartedParams;
  'task/output': TaskOutputParams;
  'task/raw': TaskRawParams;
  'task/finished': TaskFinishedParams;
  log: LogParams;
}

/**
 * Notifications the host sends to the agent: method name → params.
 *
 * `host/wake` carries nothing and the agent ignores it. The host sends it while a plan runs and the
 * channel has been quiet for a while. Its effect is the guest kernel's: data arriving on a
 * virtio-serial port wakes whoever waits on that port, a writer included (virtio_console's
 * `in_intr` wakes the port's wait queue, and a woken writer reclaims the buffers the host has
 * consumed). Without it, a writer whose output interrupt was missed (reported for 6.1 guests on 2
 * vCPUs under emulation, lmb/vimto#29) would wait for ever. A safeguard: no failure here is known to
 * have been that one.
 */
export interface HostNotifications {
  'host/wake': Record<string, never>;
  /**
   * Sent once to a VM guest that waits in the pool, right after its restore, before any job. The
   * agent runs a short Python (the image's interpreter importing what the task helpers import) as an
   * unprivileged user, so that QEMU's translation cache (which no snapshot keeps) holds the
   * interpreter's code before a job's first task needs it. Ignored by a guest that has begun a job,
   * or outside VMs; a job's `initialize` that arrives while it runs stops it (it must not slow the
   * job's start).
   */
  'host/prime': Record<string, never>;
}

export type AgentRequestName = keyof AgentRequests;
export type AgentNotificationName = keyof AgentNotifications;

/** Size of one raw-data chunk before base64. */
export const RAW_CHUNK_BYTES = 256 * 1024;

/** JSON-RPC error codes the agent uses (application range). */
export const AgentErrorCodes = {
  invalidPlan: -32010,
  busy: -32011,
  internal: -32012,
} as const;
