/**
 * A bare host end of the agent protocol that records everything: drives one started sandbox through
 * initialize → run(plan) → shutdown, keeps every notification in arrival order, then waits for the
 * sandbox to end on its own before disposing of it. It checks nothing itself (that is the tests' job)
 * and, unlike the audit's session driver, never kills a sandbox that would end by itself.
 */
import {
  RpcPeer, type AgentHello, type AgentNotifications, type AgentRequests, type PingResult, type Plan, type RunResult, type TaskFinishedParams, type TaskOutputParams,
} from '@pyti/vm-agent';
import type { SandboxInstance } from '@pyti/slave';

/** One notification as it arrived. */
export interface RecordedNotification {
  method: keyof AgentNotifications;
  params: AgentNotifications[keyof AgentNotifications];
}

export interface RecordedSession {
  hello?: AgentHello;
  run?: RunResult;
  shutdown?: { ok: true };
  /** The answer to the `ping` sent at the first output of the task named by `pingAtOutputOf` (or its error). */
  ping?: PingResult | { error: string };
  notifications: RecordedNotification[];
  /** Malformed or unexpected messages from the guest. */
  protocolErrors: string[];
  /** The first request that failed or timed out. */
  error?: string;
  /** How the sandbox ended after shutdown, before dispose(); undefined if it had not ended in time. */
  endedOnItsOwn?: { code: number | null; signal: string | null };
  /** Whether `exited` resolved once dispose() returned. */
  exitedAfterDispose: boolean;
  console: string;
}

export interface RecorderTimeouts {
  bootMs: number;
  runMs: number;
  /** How long the sandbox may take to end by itself after answering shutdown. */
  endMs: number;
}

/** The notifications about task `id`, in arrival order. */
export function notificationsOf(rec: RecordedSession, id: string): RecordedNotification[] {
  const idOf = (n: RecordedNotification): string | undefined =>
    n.method === 'task/finished' ? (n.params as TaskFinishedParams).result.id : 'id' in n.params ? n.params.id : undefined;
  return rec.notifications.filter((n) => idOf(n) === id);
}

/** Task `id`'s output (stdout and stderr as they arrived). */
export function outputOf(rec: RecordedSession, id: string): string {
  return notificationsOf(rec, id).map((n) => (n.method === 'task/output' ? (n.params as TaskOutputParams).text : '')).join('');
}

type HostPeer = RpcPeer<Record<string, never>, AgentRequests, AgentNotifications, Record<string, never>>;
const METHODS: (keyof AgentNotifications)[] = ['task/started', 'task/output', 'task/raw', 'task/finished', 'log'];

/** `p`, or `fallback()` after `ms` (the timer is cleared either way). */
export function orAfter<T, F>(p: Promise<T>, ms: number, fallback: () => F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<F>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(fallback());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  orAfter(p, ms, () => {
    throw new Error(`${what}: no answer within ${ms} ms`);
  });

/**
 * Runs `plan` through `instance`; `onNotification` sees each notification as it arrives. With
 * `pingAtOutputOf`, a `ping` goes to the agent mid-plan, at that task's first output.
 */
export async function recordSession(
  instance: SandboxInstance, plan: Plan, t: RecorderTimeouts, onNotification: (n: RecordedNotification) => void = () => undefined,
  pingAtOutputOf?: string,
): Promise<RecordedSession> {
  const rec: RecordedSession = { notifications: [], protocolErrors: [], exitedAfterDispose: false, console: '' };
  let pinged: Promise<void> | undefined;
  const peer: HostPeer = new RpcPeer(instance.reader, instance.writer, {
    onProtocolError: (err, raw) => rec.protocolErrors.push(`${err.message}: ${raw.slice(0, 200)}`),
  });
  for (const method of METHODS) {
    peer.onNotification(method, (params) => {
      const n = { method, params } as RecordedNotification;
      rec.notifications.push(n);
      onNotification(n);
      if (pingAtOutputOf && !pinged && method === 'task/output' && (params as TaskOutputParams).id === pingAtOutputOf) {
        pinged = peer.request('ping', {}).then((r) => void (rec.ping = r), (err: Error) => void (rec.ping = { error: err.message }));
      }
    });
  }
  const ended = instance.exited.then((e) => e);
  const died = ended.then((e) => Promise.reject(new Error(`the sandbox ended (exit ${e.code}, signal ${e.signal})`)));
  died.catch(() => undefined);
  try {
    rec.hello = await within(Promise.race([peer.request('initialize', { hostVersion: 'conformance' }), died]), t.bootMs, 'initialize');
    rec.run = await within(Promise.race([peer.request('run', { plan }), died]), t.runMs, 'run');
    if (pinged) await within(pinged, t.bootMs, 'ping');
    rec.shutdown = await within(Promise.race([peer.request('shutdown', {}), died]), t.bootMs, 'shutdown');
    rec.endedOnItsOwn = await orAfter(ended, t.endMs, () => undefined);
  } catch (err) {
    rec.error = (err as Error).message;
  } finally {
    peer.rejectPending('session over');
    await instance.dispose();
    rec.exitedAfterDispose = await orAfter(ended.then(() => true), 1000, () => false);
    rec.console = instance.console();
  }
  return rec;
}
