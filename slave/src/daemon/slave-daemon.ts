/**
 * The slave daemon (`pyti slave`): registers with the master, leases up to `concurrency` jobs at once
 * with long-polling, runs each (job-runner.ts), keeps its leases alive with heartbeats, obeys the
 * master's commands (cancel a job, drain), and delivers finished results through the on-disk outbox.
 *
 * - Leases the master voids (heartbeat `lost`, progress `valid: false`, a `cancel` command) stop their
 *   job: its sandbox is killed, its directory removed, nothing more is reported about it.
 * - Draining (the master's `drain` command, or the caller's `drain` signal, e.g. SIGTERM) leases nothing
 *   new, finishes the running jobs, tries once more to deliver the outbox, and resolves to 0.
 * - A master restart or outage: every call retries with backoff; the lease loop and heartbeats keep
 *   trying; finished results wait in the outbox (also across a slave restart) until the master
 *   acknowledges them.
 * - Draining while the master is down ends promptly: once draining, each call to the master gives up
 *   after DRAIN_CALL_DEADLINE_MS (results it could not deliver stay in the outbox for the next start),
 *   and when the daemon ends every call still retrying is aborted, so nothing keeps the process alive.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { auditGuestSize, type AuditOptions } from '../audit.js';
import type { Backend } from '../backends/backend.js';
import { BwrapBackend } from '../backends/bwrap.js';
import { LibvirtBackend } from '../backends/libvirt.js';
import { QemuBackend } from '../backends/qemu.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, sleep, type RetryPolicy, COMMAND_PROTOCOL_VERSION, CommandErrorCodes, type LeasedJob, type RegisterParams, type RegisterResult, type SlaveCommand, type HeartbeatParams, IndexClient } from '@pyti/common';
import { CommandClient, CommandError, type CallOptions } from '../command/command-client.js';
import type { GuestTags } from '../prefetch/guest-tags.js';
import { openPrefetchHost } from '../prefetch/prefetch-host.js';
import type { WheelCache } from '../prefetch/wheel-cache.js';
import { pruneWheelCache } from '../prefetch/wheel-cache-pruner.js';
import { formatBytes } from '@pyti/common';
import { lockDataDir, resetJobsDir } from './data-dir.js';
import { runJob } from './job-runner.js';
import { Outbox } from './outbox.js';
import { ProgressSender } from './progress-sender.js';
import { describeSlaveConfig, type SlaveConfig } from './slave-config.js';

/** How long a call to the master may keep retrying once the slave drains (then it gives up; results stay in the outbox). */
export const DRAIN_CALL_DEADLINE_MS = 3000;

/** The slave's software version, sent at registration. */
export const SLAVE_VERSION = '0.1.0';

export interface SlaveIO {
  /** One line of progress (`job <id> <phase>`, …); the CLI writes it to stderr with a time stamp. */
  log(line: string): void;
  /** Aborting it drains the slave (the CLI aborts it on SIGTERM and SIGINT). */
  drain?: AbortSignal;
  /** Backends by name instead of the real ones (tests). */
  backends?: Record<string, Backend>;
  /** The guest root filesystem (default: the built image). */
  rootfs?: string;
  /** Retry policy of the command client (tests shorten it). */
  retry?: Partial<RetryPolicy>;
  /** Audit options passed to every job (tests lower the parallelism). */
  audit?: Pick<AuditOptions, 'parallel' | 'limits' | 'sessionLimits'>;
  /** Longest long-poll asked for. Default 30 s (capped by the master's maxWaitMs). */
  leaseWaitMs?: number;
}

interface Running {
  job: LeasedJob;
  ctrl: AbortController;
  done: Promise<void>;
}

const BACKENDS: Record<string, (c: SlaveConfig) => Backend> = {
  bwrap: () => new BwrapBackend(),
  qemu: (c) => new QemuBackend({ pool: c.vmPool }),
  libvirt: (c) => new LibvirtBackend({ pool: c.vmPool }),
};

class Drained extends Error {}

/** A job's source in a log line. */
function describeSource(s: LeasedJob['source']): string {
  if (s.kind === 'index') return `${s.project}==${s.version}`;
  if (s.kind === 'git') return `git ${s.repo} ${s.branch} ${s.commit.slice(0, 12)}`;
  return s.filename;
}

/** Runs the slave until it has drained; resolves to the exit code (0). Throws a PytiError for a fatal problem (bad token, no backend). */
export async function runSlave(config: SlaveConfig, io: SlaveIO): Promise<number> {
  return new SlaveDaemon(config, io).run();
}

class SlaveDaemon {
  private readonly running = new Map<string, Running>();
  private readonly client: CommandClient;
  private readonly index: IndexClient;
  private readonly outbox: Outbox;
  private cache!: WheelCache;
  private readonly policy: RetryPolicy;
  private draining = false;
  private drainCtrl = new AbortController();
  private leaseCtrl = new AbortController();
  private wakeLoop: () => void = () => undefined;
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatMs = 15_000;
  private masterDown = false;
  /** The pending jobs.lease call failed and waits to retry (no live long-poll on the master). */
  private leaseRetrying = false;
  private reg: RegisterResult | null = null;
  private backends = new Map<string, Backend>();
  private tags!: GuestTags;
  private rootfs!: string;
  private jobsDir!: string;
  private stopped = false;
  private pruning: Promise<void> | null = null;
  /** Aborted when the daemon ends: calls still retrying (a heartbeat sent at drain time) stop at once. */
  private readonly quit = new AbortController();

  constructor(private readonly config: SlaveConfig, private readonly io: SlaveIO) {
    this.policy = { ...DEFAULT_RETRY_POLICY, ...io.retry };
    this.client = new CommandClient({
      masterUrl: config.masterUrl, token: config.token, retry: io.retry,
      onRetry: ({ what, attempt, error }) => {
        if (attempt === 1) this.io.log(`master: ${what}: ${error.message}; retrying`);
        if (what === 'jobs.lease') {
          // The long-poll got no answer: nothing can be leased into it while it waits to retry.
          this.leaseRetrying = true;
          if (this.draining) this.leaseCtrl.abort(new Drained());
        }
      },
    });
    this.index = new IndexClient({ indexUrl: config.indexUrl, policy: config.fetchPolicy });
    this.outbox = new Outbox(config.dataDir);
  }

  async run(): Promise<number> {
    const release = lockDataDir(this.config.dataDir);
    try {
      this.jobsDir = resetJobsDir(this.config.dataDir);
      this.io.log(`slave starting: ${describeSlaveConfig(this.config)}`);
      ({ cache: this.cache, rootfs: this.rootfs, tags: this.tags } = await openPrefetchHost({ wheelCacheDir: join(this.config.dataDir, 'wheels'), rootfs: this.io.rootfs }));
      await this.pruneWheelCache('at start');
      await this.setUpBackends();
      if (this.io.drain?.aborted) this.startDrain('asked to drain');
      this.io.drain?.addEventListener('abort', () => this.startDrain('asked to drain'), { once: true });
      try {
        this.reg = await this.register();
      } catch (err) {
        if (err instanceof Drained) return await this.finish();
        throw err;
      }
      this.kickOutbox(); // results a previous run could not deliver
      this.scheduleHeartbeat();
      await this.leaseLoop();
      return await this.finish();
    } finally {
      this.stopped = true;
      this.quit.abort(new Drained());
      clearTimeout(this.heartbeatTimer);
      clearTimeout(this.flushTimer);
      for (const r of this.running.values()) r.ctrl.abort(new Error('the slave is stopping'));
      await this.closePools();
      await Promise.allSettled([...this.running.values()].map((r) => r.done));
      await this.pruning;
      release();
    }
  }

  private async setUpBackends(): Promise<void> {
    for (const name of this.config.backends) {
      const b = this.io.backends?.[name] ?? BACKENDS[name]?.(this.config);
      if (!b) throw new PytiError('PYTI_BACKEND_UNAVAILABLE', `no backend ${name}`);
      const why = await b.probe();
      if (why) throw new PytiError('PYTI_BACKEND_UNAVAILABLE', `backend ${name} cannot run here: ${why}`);
      this.backends.set(name, b);
      // The pool fills in the background with guests of the size a usual audit's plan gets.
      if (b.poolReady && (b.poolStatus?.().size ?? 0) > 0) {
        b.poolReady(auditGuestSize({ ...this.io.audit, perf: this.config.perf })).then(
          () => this.io.log(`${name}: ${b.poolStatus?.().ready ?? 0} guest(s) ready in the pool`),
          (err: Error) => this.io.log(`${name}: the guest pool did not fill (jobs restore their own guests): ${err.message.split('\n')[0]}`),
        );
      }
    }
  }

  /** Ends every backend's waiting guests (drain, shutdown): nothing restored for a job that will not come. */
  private closePools(): Promise<unknown> {
    return Promise.allSettled([...this.backends.values()].map((b) => b.closePool?.()));
  }

  /** The pools of the VM backends, for heartbeats (absent when no backend has one). */
  private poolReport(): HeartbeatParams['pools'] {
    const pools = [...this.backends].flatMap(([backend, b]) => {
      const st = b.poolStatus?.();
      return st && st.size > 0 ? [{ backend, size: st.size, ready: st.ready }] : [];
    });
    return pools.length ? pools : undefined;
  }

  private registerParams(): RegisterParams {
    return {
      protocolVersion: COMMAND_PROTOCOL_VERSION, version: SLAVE_VERSION, host: this.config.name,
      capabilities: {
        backends: [...this.backends.keys()], python: this.tags.python, platforms: this.tags.platforms,
        implementation: this.tags.implementation, abi: this.tags.abi, concurrency: this.config.concurrency,
      },
    };
  }

  /** Registers, retrying while the master cannot be reached; a refusal (bad token, protocol) is fatal. */
  private async register(): Promise<RegisterResult> {
    for (let attempt = 1; ; attempt++) {
      if (this.draining) throw new Drained();
      try {
        const r = await this.client.call('slave.register', this.registerParams(), { signal: this.drainCtrl.signal });
        this.heartbeatMs = Math.max(100, Math.min(r.heartbeatMs, r.leaseMs / 2));
        this.io.log(`registered with ${this.config.masterUrl} as ${r.slave} (lease ${r.leaseMs} ms, heartbeat ${this.heartbeatMs} ms)`);
        this.masterDown = false;
        return r;
      } catch (err) {
        if (this.draining) throw new Drained();
        if (!(err instanceof PytiError) || err.code !== 'PYTI_MASTER_UNREACHABLE') throw err;
        this.noteDown(err);
        await sleep(backoffDelay(attempt, this.policy), this.drainCtrl.signal).catch(() => undefined);
      }
    }
  }

  private noteDown(err: Error): void {
    if (!this.masterDown) this.io.log(`master unreachable (${err.message}); still trying`);
    this.masterDown = true;
  }

  /** Handles an error of a call: re-registers when the master forgot us; logs outages. */
  private async handleCallError(err: unknown): Promise<void> {
    if (err instanceof CommandError && err.rpcCode === CommandErrorCodes.notRegistered) {
      this.reg = await this.register();
      return;
    }
    if (err instanceof PytiError && err.code === 'PYTI_MASTER_UNREACHABLE') return this.noteDown(err);
    if (err instanceof PytiError && err.code === 'PYTI_AUTH') throw err;
    this.io.log(`master call failed: ${(err as Error).message}`);
  }

  private async leaseLoop(): Promise<void> {
    let failures = 0;
    while (!this.draining) {
      const free = this.config.concurrency - this.running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.wakeLoop = resolve));
        continue;
      }
      const waitMs = Math.min(this.reg?.maxWaitMs ?? 30_000, this.io.leaseWaitMs ?? 30_000);
      try {
        this.leaseRetrying = false;
        const r = await this.client.call('jobs.lease', { max: free, waitMs }, { signal: this.leaseCtrl.signal });
        failures = 0;
        if (this.masterDown) this.io.log('master reachable again');
        this.masterDown = false;
        for (const job of r.jobs) this.start(job);
      } catch (err) {
        if (this.draining) break;
        try {
          await this.handleCallError(err);
        } catch (fatal) {
          if (fatal instanceof Drained) break;
          throw fatal;
        }
        failures++;
        await sleep(backoffDelay(failures, this.policy), this.drainCtrl.signal).catch(() => undefined);
      }
    }
  }

  private start(job: LeasedJob): void {
    if (this.running.has(job.leaseId)) return;
    const ctrl = new AbortController();
    const progress = new ProgressSender(this.client, job.leaseId, () => this.stopJob(job.leaseId, 'its lease is void'));
    const backend = this.backends.get(job.backend);
    const jobDir = mkdtempSync(join(this.jobsDir, 'job-'));
    this.io.log(`job ${job.jobId} leased (attempt ${job.attempt}, ${describeSource(job.source)}, ${job.backend})`);
    const done = (async () => {
      try {
        const result = backend
          ? await runJob({
            job, jobDir, client: this.client, index: this.index, cache: this.cache, rootfs: this.rootfs, tags: this.tags, backend,
            signal: ctrl.signal, progress: (e) => progress.push(e), log: (l) => this.io.log(l), audit: { ...this.io.audit, perf: this.config.perf },
          })
          : { outcome: { kind: 'error' as const, code: 'PYTI_BACKEND_UNAVAILABLE', message: `this slave has no backend ${job.backend}`, retry: true } };
        await progress.flush();
        if (ctrl.signal.aborted) throw ctrl.signal.reason;
        this.outbox.add({ leaseId: job.leaseId, jobId: job.jobId, outcome: result.outcome }, result.reportDir);
        this.kickOutbox();
      } catch (err) {
        this.io.log(`job ${job.jobId} stopped: ${ctrl.signal.aborted ? String((ctrl.signal.reason as Error)?.message ?? ctrl.signal.reason) : (err as Error).stack ?? String(err)}`);
      } finally {
        rmSync(jobDir, { recursive: true, force: true });
        this.running.delete(job.leaseId);
        this.wakeLoop();
        void this.pruneWheelCache('between jobs');
      }
    })();
    this.running.set(job.leaseId, { job, ctrl, done });
  }

  /** Prunes the wheel cache by its policy unless a prefetch uses it (then the next job's end tries again); one prune at a time. */
  private pruneWheelCache(when: string): Promise<void> {
    this.pruning ??= (async () => {
      try {
        const r = await pruneWheelCache(this.cache, this.config.wheelCache);
        if ('busy' in r) return;
        if (r.deleted.length || when === 'at start') {
          const bytes = r.deleted.reduce((s, w) => s + w.sizeBytes, 0);
          this.io.log(`wheel cache ${when}: ${r.deleted.length ? `pruned ${r.deleted.length} wheels (${formatBytes(bytes)}), ` : ''}${r.kept.count} wheels (${formatBytes(r.kept.bytes)}) kept`);
        }
      } catch (err) {
        this.io.log(`wheel cache ${when}: not pruned: ${(err as Error).message}`);
      } finally {
        this.pruning = null;
      }
    })();
    return this.pruning;
  }

  private stopJob(leaseId: string, why: string): void {
    const r = this.running.get(leaseId);
    if (r && !r.ctrl.signal.aborted) {
      this.io.log(`job ${r.job.jobId} stopping: ${why}`);
      r.ctrl.abort(new Error(why));
    }
  }

  private startDrain(why: string): void {
    if (this.draining) return;
    this.draining = true;
    this.io.log(`draining (${why}): ${this.running.size} running job(s) to finish, no new leases`);
    // The pending jobs.lease long-poll is not aborted: the heartbeat below says we drain, the master
    // answers the poll at once, and a job it leased in that answer meanwhile is run, not stranded.
    // Only a call still pending well past the longest poll (a master that does not answer) is abandoned,
    // and one that is only retrying (the master cannot be reached) is abandoned at once.
    if (this.leaseRetrying) this.leaseCtrl.abort(new Drained());
    setTimeout(() => this.leaseCtrl.abort(new Drained()), Math.min(this.reg?.maxWaitMs ?? 30_000, this.io.leaseWaitMs ?? 30_000) + 10_000).unref();
    this.drainCtrl.abort(new Drained());
    void this.closePools();
    this.wakeLoop();
    if (this.reg) void this.heartbeat();
  }

  private scheduleHeartbeat(): void {
    if (this.stopped) return;
    this.heartbeatTimer = setTimeout(() => void this.heartbeat().finally(() => this.scheduleHeartbeat()), this.heartbeatMs);
  }

  private async heartbeat(): Promise<void> {
    const leases = [...new Set([...this.running.keys(), ...this.outbox.leaseIds()])];
    try {
      const pools = this.poolReport();
      const r = await this.client.call('slave.heartbeat', { leases, draining: this.draining, ...(pools ? { pools } : {}) }, this.callOptions(Math.max(this.heartbeatMs, 5000)));
      if (this.masterDown) this.io.log('master reachable again');
      this.masterDown = false;
      for (const l of r.lost) this.stopJob(l, 'the master says its lease is lost');
      for (const c of r.commands) this.obey(c);
      if (this.outbox.leaseIds().length && !this.flushing) this.kickOutbox();
    } catch (err) {
      if (this.quit.signal.aborted) return; // the daemon ended while this heartbeat was retrying
      try {
        await this.handleCallError(err);
      } catch (fatal) {
        if (!(fatal instanceof Drained)) this.io.log(`heartbeat: ${(fatal as Error).message}`);
      }
    }
  }

  /**
   * Options of a heartbeat or delivery call: aborted when the daemon ends; once draining, the retry
   * deadline is DRAIN_CALL_DEADLINE_MS (a master that is down must not hold the slave's exit).
   */
  private callOptions(deadlineMs?: number): CallOptions {
    const deadline = this.draining ? Math.min(deadlineMs ?? DRAIN_CALL_DEADLINE_MS, DRAIN_CALL_DEADLINE_MS) : deadlineMs;
    return { signal: this.quit.signal, ...(deadline !== undefined ? { deadlineMs: deadline } : {}) };
  }

  private obey(c: SlaveCommand): void {
    if (c.kind === 'drain') return this.startDrain('the master asked');
    if (c.kind === 'cancel') {
      this.stopJob(c.leaseId, 'cancelled by the master');
      this.outbox.remove(c.leaseId);
    }
  }

  /** Starts delivering the outbox unless it is under way (then it goes round once more). */
  private kickOutbox(): void {
    clearTimeout(this.flushTimer);
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = this.flushOutbox().finally(() => (this.flushing = null));
  }

  private async flushOutbox(): Promise<void> {
    do {
      this.flushAgain = false;
      for (const e of this.outbox.entries()) {
        let r: Awaited<ReturnType<Outbox['send']>>;
        try {
          r = await this.outbox.send(e, this.client, this.callOptions());
        } catch (err) {
          if (this.quit.signal.aborted) return; // the daemon is ending: the entry stays in the outbox
          throw err;
        }
        if (r === 'unreachable') {
          this.noteDown(new Error(`result of job ${e.jobId} kept for later`));
          if (!this.stopped) this.flushTimer = setTimeout(() => this.kickOutbox(), 2000 + Math.random() * 3000);
          return;
        }
        this.io.log(`job ${e.jobId} result ${r === 'refused' ? 'refused by the master (dropped)' : r === 'replayed' ? 'already stored' : 'delivered'}`);
      }
    } while (this.flushAgain);
  }

  /** Waits for the running jobs and one more delivery of the outbox; resolves to the exit code. */
  private async finish(): Promise<number> {
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    while (this.flushing) await this.flushing;
    clearTimeout(this.flushTimer);
    if (this.reg && this.outbox.entries().length) {
      this.kickOutbox();
      while (this.flushing) await this.flushing;
      clearTimeout(this.flushTimer);
    }
    const left = this.outbox.entries().length;
    if (this.reg && !this.masterDown) {
      try {
        await this.client.call('slave.heartbeat', { leases: this.outbox.leaseIds(), draining: true }, this.callOptions(5000));
      } catch {
        /* the master may be gone */
      }
    }
    this.io.log(`drained${left ? `; ${left} result(s) kept in the outbox for the next start` : ''}`);
    return 0;
  }
}
