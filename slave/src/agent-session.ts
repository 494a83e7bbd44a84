/**
 * The host's side of one job's conversation with the vm-agent: hello, run the plan, collect the
 * streamed raw data, shut down. Everything from the guest is bounded (message size, raw bytes per
 * file and in all, output bytes, message rate) and shape-checked; a violation ends the job as
 * `error:sandbox-protocol` with the offending message as evidence. Package failures come back as
 * data in the RunResult; only infrastructure failures end up in `infraError`.
 */
import { randomBytes } from 'node:crypto';
import {
  RpcPeer, MessageTooLargeError,
  type AgentHello, type AgentNotifications, type HostNotifications, type AgentRequests, type Plan, type RunResult, type TaskResult,
} from '@pyti/vm-agent';
import type { InfraError } from '@pyti/common';
import type { SandboxInstance } from './backends/backend.js';
import { checkFinished, checkHello, checkOutput, checkPing, checkRaw, checkRunResult, checkStarted, ShapeError } from './guest-messages.js';

export interface SessionLimits {
  /** From start to the agent's hello. */
  bootSeconds: number;
  /** The whole job, hello included. */
  jobSeconds: number;
  /**
   * While a plan runs: seconds without any message from the guest, pings included (the host pings a
   * channel quiet for PING_AFTER_QUIET_MS), before the job ends as `error:guest-unresponsive`.
   */
  unresponsiveSeconds: number;
  /**
   * Seconds a task may run past its wall-clock limit, by the host's clock and with nothing heard of it
   * for 30 s, before the job ends as `error:task-overrun`: the guest enforces the limits, and the host
   * does not trust it to.
   */
  overrunGraceSeconds: number;
  maxRawBytesPerFile: number;
  maxRawBytesTotal: number;
  /** Task output kept per task on the host. */
  maxOutputBytesPerTask: number;
  /** Messages per second, averaged over the job after its first 10 000 messages. */
  maxMessagesPerSecond: number;
}

export const DEFAULT_SESSION_LIMITS: Readonly<SessionLimits> = Object.freeze({
  bootSeconds: 60,
  // Above the plan's longest path: the test task alone may take 3600 s (TEST_LIMITS), build and install 900 s each.
  jobSeconds: 3 * 3600,
  unresponsiveSeconds: 120,
  overrunGraceSeconds: 120,
  maxRawBytesPerFile: 64 * 1024 * 1024,
  maxRawBytesTotal: 256 * 1024 * 1024,
  maxOutputBytesPerTask: 16 * 1024 * 1024,
  maxMessagesPerSecond: 20000,
});

export interface SessionEvents {
  hello?(hello: AgentHello): void;
  taskStarted?(id: string): void;
  taskOutput?(id: string, stream: 'stdout' | 'stderr', text: string): void;
  taskFinished?(result: TaskResult): void;
}

export interface SessionOutcome {
  hello?: AgentHello;
  run?: RunResult;
  /** task id → raw file name → bytes. */
  raw: Map<string, Map<string, Buffer>>;
  /** task id → combined output kept (capped). */
  output: Map<string, string>;
  infraError?: InfraError;
  console: string;
  bootMs?: number;
  runMs?: number;
}

type HostPeer = RpcPeer<Record<string, never>, AgentRequests, AgentNotifications, HostNotifications>;

/** While a plan runs, the host sends `host/wake` after this long without a message from the guest. */
export const WAKE_AFTER_QUIET_MS = 2000;
/**
 * While a plan runs, the host sends `ping` (one at a time) after this long without a message from the
 * guest, or after a quarter of `unresponsiveSeconds` if that is shorter.
 */
export const PING_AFTER_QUIET_MS = 10000;
/** A task past its wall-clock limit and grace counts as overrun only after this long (at most the grace) without a message of its own. */
const OVERRUN_QUIET_MS = 30000;

/** Drives one plan through a started sandbox and disposes of the sandbox before resolving. */
export async function runAgentSession(
  instance: SandboxInstance, plan: Plan, limits: SessionLimits = DEFAULT_SESSION_LIMITS, events: SessionEvents = {},
): Promise<SessionOutcome> {
  const known = new Set(plan.tasks.map((t) => t.id));
  const outcome: SessionOutcome = { raw: new Map(), output: new Map(), console: '' };
  const t0 = Date.now();
  let rawTotal = 0;
  let messages = 0;
  let failed: InfraError | undefined;
  let failNow: (e: InfraError) => void = () => undefined;
  const failure = new Promise<InfraError>((resolve) => {
    failNow = (e) => {
      if (failed) return;
      failed = e;
      resolve(e);
    };
  });
  const violation = (message: string, raw: unknown): void =>
    failNow({ kind: 'error:sandbox-protocol', message, evidence: (typeof raw === 'string' ? raw : JSON.stringify(raw) ?? '').slice(0, 512) });

  const peer: HostPeer = new RpcPeer(instance.reader, instance.writer, {
    onProtocolError: (err, raw) => violation(err instanceof MessageTooLargeError ? err.message : `malformed message: ${err.message}`, raw),
    onClose: () => undefined,
  });
  let lastHeard = Date.now();
  const guard = <T>(method: string, check: (v: unknown) => T, use: (v: T) => void) => (params: unknown): void => {
    if (failed) return;
    messages++;
    lastHeard = Date.now();
    const elapsed = (Date.now() - t0) / 1000;
    if (messages > 10000 && messages / Math.max(elapsed, 1) > limits.maxMessagesPerSecond) {
      violation(`message rate above ${limits.maxMessagesPerSecond}/s`, { method });
      return;
    }
    let v: T;
    try {
      v = check(params);
    } catch (err) {
      violation(`${method}: ${err instanceof ShapeError ? err.message : String(err)}`, params);
      return;
    }
    use(v);
  };
  const expectedOffset = new Map<string, number>();
  // Tasks the guest said it started and has not finished: when (host clock), and when last heard of.
  const taskClock = new Map<string, { started: number; heard: number }>();
  const heardOf = (id: string): void => {
    const c = taskClock.get(id);
    if (c) c.heard = Date.now();
  };
  peer.onNotification('task/started', guard('task/started', (v) => checkStarted(v, known), (p) => {
    taskClock.set(p.id, { started: Date.now(), heard: Date.now() });
    events.taskStarted?.(p.id);
  }));
  peer.onNotification('task/output', guard('task/output', (v) => checkOutput(v, known), (p) => {
    heardOf(p.id);
    const prev = outcome.output.get(p.id) ?? '';
    if (prev.length < limits.maxOutputBytesPerTask) outcome.output.set(p.id, prev + p.text.slice(0, limits.maxOutputBytesPerTask - prev.length));
    events.taskOutput?.(p.id, p.stream, p.text);
  }));
  peer.onNotification('task/raw', guard('task/raw', (v) => checkRaw(v, known), (p) => {
    heardOf(p.id);
    const key = `${p.id}/${p.name}`;
    if ((expectedOffset.get(key) ?? 0) !== p.offset) return violation(`raw chunk of ${key} out of order`, { ...p, data: '…' });
    const bytes = Buffer.from(p.data, 'base64');
    expectedOffset.set(key, p.offset + bytes.length);
    rawTotal += bytes.length;
    if (p.offset + bytes.length > limits.maxRawBytesPerFile) return violation(`raw file ${key} exceeds ${limits.maxRawBytesPerFile} bytes`, { ...p, data: '…' });
    if (rawTotal > limits.maxRawBytesTotal) return violation(`raw data exceeds ${limits.maxRawBytesTotal} bytes in all`, { ...p, data: '…' });
    const files = outcome.raw.get(p.id) ?? new Map<string, Buffer>();
    files.set(p.name, Buffer.concat([files.get(p.name) ?? Buffer.alloc(0), bytes]));
    outcome.raw.set(p.id, files);
  }));
  peer.onNotification('task/finished', guard('task/finished', (v) => checkFinished(v, known), (p) => {
    taskClock.delete(p.result.id);
    events.taskFinished?.(p.result);
  }));
  peer.onNotification('log', () => undefined);

  const sandboxEnded = instance.exited.then((e): InfraError => ({
    kind: 'error:sandbox', message: `the sandbox ended unexpectedly (exit ${e.code ?? 'none'}${e.signal ? `, signal ${e.signal}` : ''})`,
  }));
  const timer = (ms: number, e: InfraError): { p: Promise<InfraError>; clear: () => void } => {
    let h: NodeJS.Timeout;
    const p = new Promise<InfraError>((resolve) => (h = setTimeout(() => resolve(e), ms)));
    return { p, clear: () => clearTimeout(h) };
  };
  const jobTimer = timer(limits.jobSeconds * 1000, { kind: 'error:job-timeout', message: `the job ran past ${limits.jobSeconds} s` });
  const bootTimer = timer(limits.bootSeconds * 1000, { kind: 'error:boot-timeout', message: `no hello from the agent within ${limits.bootSeconds} s` });
  const stop = Promise.race([failure, sandboxEnded, jobTimer.p]);
  const wallLimit = new Map(plan.tasks.map((t) => [t.id, t.limits.wallSeconds]));
  /**
   * While the plan runs, once a second: a quiet channel gets a wake-up (a guest writer that missed
   * its interrupt resumes) and a ping; a guest silent past `unresponsiveSeconds`, or a task left
   * running past its wall-clock limit, ends the job. Both are infrastructure failures: the guest, not
   * the package, failed to do its part.
   */
  const watchGuest = (): NodeJS.Timeout => {
    let lastWake = 0;
    let pinging = false;
    let lastPing: string[] | undefined;
    const pingAfterMs = Math.min(PING_AFTER_QUIET_MS, (limits.unresponsiveSeconds * 1000) / 4);
    const overrunQuietMs = Math.min(OVERRUN_QUIET_MS, limits.overrunGraceSeconds * 1000);
    return setInterval(() => {
      if (failed) return;
      const now = Date.now();
      const quiet = now - lastHeard;
      if (quiet >= limits.unresponsiveSeconds * 1000) {
        const was = lastPing ? `; its last answer had ${lastPing.length ? lastPing.join(', ') : 'no task'} running` : '';
        return failNow({ kind: 'error:guest-unresponsive', message: `the guest sent nothing and answered no ping for ${Math.round(quiet / 1000)} s${was}` });
      }
      for (const [id, c] of taskClock) {
        const wall = wallLimit.get(id) ?? 0;
        if (now - c.started > (wall + limits.overrunGraceSeconds) * 1000 && now - c.heard > overrunQuietMs) {
          return failNow({
            kind: 'error:task-overrun',
            message: `task ${id} has run ${Math.round((now - c.started) / 1000)} s by the host's clock, past its wall-clock limit of ${wall} s, and the guest has not ended it`,
          });
        }
      }
      try {
        if (quiet >= WAKE_AFTER_QUIET_MS && now - lastWake >= WAKE_AFTER_QUIET_MS) {
          lastWake = now;
          peer.notify('host/wake', {});
        }
        if (quiet >= pingAfterMs && !pinging) {
          pinging = true;
          peer.request('ping', {}).then(
            (v) => {
              try {
                lastPing = checkPing(v, known).running;
                lastHeard = Date.now();
              } catch (err) {
                violation(`ping: ${(err as Error).message}`, v);
              }
            },
            () => undefined, // an error answer, or the job ended: the next tick decides
          ).finally(() => (pinging = false));
        }
      } catch {
        /* the channel is gone: the session ends on its own */
      }
    }, Math.min(1000, pingAfterMs));
  };
  let watchdog: NodeJS.Timeout | undefined;
  try {
    const hello = await Promise.race([peer.request('initialize', { hostVersion: '0.1.0', clockMs: Date.now(), entropy: randomBytes(256).toString('base64') }), stop, bootTimer.p]);
    bootTimer.clear();
    if (isInfra(hello)) throw hello;
    outcome.hello = checkHello(hello);
    outcome.bootMs = Date.now() - t0;
    events.hello?.(outcome.hello);
    const t1 = Date.now();
    lastHeard = Date.now(); // the hello was heard
    watchdog = watchGuest();
    const run = await Promise.race([peer.request('run', { plan }), stop]);
    if (isInfra(run)) throw run;
    if (failed) throw failed;
    outcome.run = checkRunResult(run, known);
    outcome.runMs = Date.now() - t1;
    await Promise.race([peer.request('shutdown', {}), stop, new Promise((r) => setTimeout(r, 2000).unref())]);
  } catch (err) {
    if (isInfra(err)) outcome.infraError = err;
    else if (err instanceof ShapeError) outcome.infraError = { kind: 'error:sandbox-protocol', message: err.message };
    else outcome.infraError = failed ?? { kind: 'error:sandbox', message: `agent request failed: ${(err as Error).message ?? String(err)}` };
  } finally {
    clearInterval(watchdog);
    jobTimer.clear();
    bootTimer.clear();
    peer.rejectPending('job ended');
    await instance.dispose();
    outcome.console = instance.console();
  }
  // Tasks signalled from outside the sandbox failed because of the host, not the package: retried.
  const outside = instance.outsideKill?.();
  if (outside && outcome.infraError?.kind !== 'error:sandbox-protocol') {
    outcome.infraError = { kind: 'error:sandbox', message: `the sandbox's tasks were killed from outside the sandbox: ${outside}` };
  }
  return outcome;
}

function isInfra(v: unknown): v is InfraError {
  return typeof v === 'object' && v !== null && 'kind' in v && typeof (v as InfraError).kind === 'string' && String((v as InfraError).kind).startsWith('error:');
}
