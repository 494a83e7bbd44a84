/**
 * The few sessions the conformance suite runs on one backend, each started on first use and shared
 * by every test that looks at it: the protocol session (recorded message by message), the hostile
 * session (through the audit's own session driver, which must not be fooled) and one real audit.
 * The hostile session runs after the protocol session, on the same backend, to check rollback.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  auditDistribution, DEFAULT_SESSION_LIMITS, runAgentSession,
  type AuditOutcome, type Backend, type SandboxInputs, type SandboxInstance, type SessionOutcome,
} from '@pyti/slave';
import type { Plan, TaskOutputParams } from '@pyti/vm-agent';
import { buildFixture, makeWheelhouse } from '../fixture-dists.js';
import { hostilePlan, LARGE_INPUT, markerName, protocolPlan, type PlanScale } from './conformance-plans.js';
import { guestReport } from './guest-report.js';
import { leftoverProcesses, sessionProcesses, type HostProcess } from './host-processes.js';
import { orAfter, outputOf, recordSession, type RecordedSession } from './protocol-recorder.js';
import { recordingBackend } from './recording-backend.js';
import { makeSandboxJob } from './sandbox-job.js';
import { treeDigest } from './tree-digest.js';

/** Options of the suite for one backend. */
export interface ConformanceOptions {
  /** Multiplies every time limit and timeout: 1 for sandboxes, about 10 for VMs under TCG emulation. */
  slowFactor?: number;
  /** Independent tasks at once in the suite's plans (1 or 2; default 2). */
  parallel?: 1 | 2;
}

/** Seconds each session may take at slowFactor 1 (the jest timeouts derive from them). */
export const SESSION_BUDGET_SECONDS = { protocol: 120, hostile: 180, audit: 600 } as const;

/** What every session shares: how its processes were seen and what they left behind. */
export interface SessionProcesses {
  /** The session's processes on the host, seen while a task ran. */
  seen: HostProcess[];
  /** Those still there (or new ones named by the job) after the session, with a grace period. */
  leftovers: HostProcess[];
  /** Whether `exited` had resolved once the session was over. */
  exited: boolean;
}

export interface ProtocolSession extends SessionProcesses {
  plan: Plan;
  nonce: string;
  /** The sha256 of the large input file given to the guest. */
  largeInputSha256: string;
  rec: RecordedSession;
}

export interface HostileSession extends SessionProcesses {
  plan: Plan;
  outcome: SessionOutcome;
  /** Digests of the host's agent and task-helper directories before and after. */
  hostFiles: { before: string; after: string };
}

export interface AuditSession extends SessionProcesses {
  outcome: AuditOutcome;
}

interface Watcher {
  see(): void;
  finish(): Promise<SessionProcesses>;
}

export class ConformanceSessions {
  readonly scale: PlanScale;
  private protocolRun?: Promise<ProtocolSession>;
  private hostileRun?: Promise<HostileSession>;
  private auditRun?: Promise<AuditSession>;
  private readonly outDirs: string[] = [];

  constructor(readonly label: string, readonly backend: Backend, opts: ConformanceOptions = {}) {
    this.scale = { slowFactor: opts.slowFactor ?? 1, parallel: opts.parallel ?? 2 };
  }

  /** Milliseconds: the budget of the named sessions, scaled (for jest timeouts). */
  budgetMs(...sessions: (keyof typeof SESSION_BUDGET_SECONDS)[]): number {
    return sessions.reduce((s, k) => s + SESSION_BUDGET_SECONDS[k], 0) * 1000 * this.scale.slowFactor;
  }

  protocol(): Promise<ProtocolSession> {
    return (this.protocolRun ??= this.timed('protocol', () => this.runProtocol()));
  }

  hostile(): Promise<HostileSession> {
    // After the protocol session, whose markers it looks for (and whatever became of that session).
    return (this.hostileRun ??= this.protocol().catch(() => undefined).then((p) => this.timed('hostile', () => this.runHostile(p))));
  }

  audit(): Promise<AuditSession> {
    return (this.auditRun ??= this.timed('audit', () => this.runAudit()));
  }

  /** Removes the audit's output (kept when PYTI_KEEP_TEST_OUTPUT is set). */
  cleanup(): void {
    if (process.env.PYTI_KEEP_TEST_OUTPUT) return;
    for (const d of this.outDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }

  private async timed<T>(name: string, run: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await run();
    } finally {
      process.stderr.write(`conformance ${this.label}: ${name} session ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  }

  private sf(seconds: number): number {
    return seconds * 1000 * this.scale.slowFactor;
  }

  /** Watches a started instance's processes: call `see` while a task runs, `finish` once it is over. */
  private watch(instance: SandboxInstance, jobNeedles: string[]): Watcher {
    // A backend whose host processes do not name the job directory (libvirt's QEMU) says what they do name.
    const needles = [...jobNeedles, ...(instance.hostMarkers ?? [])];
    let seen: HostProcess[] = [];
    return {
      see: () => {
        if (!seen.length) seen = sessionProcesses(needles);
      },
      finish: async () => {
        const exited = await orAfter(instance.exited.then(() => true), this.sf(10), () => false);
        return { seen, exited, leftovers: await leftoverProcesses(seen, needles, this.sf(5)) };
      },
    };
  }

  private async runProtocol(): Promise<ProtocolSession> {
    const nonce = randomBytes(6).toString('hex');
    const plan = protocolPlan(nonce, this.scale);
    const large = randomBytes(LARGE_INPUT.bytes);
    const largeInputSha256 = createHash('sha256').update(large).digest('hex');
    const job = await makeSandboxJob({ [LARGE_INPUT.name]: large });
    try {
      const instance = await this.backend.start(job.inputs);
      const w = this.watch(instance, [job.inputs.jobDir, nonce]);
      const rec = await recordSession(instance, plan, { bootMs: this.sf(60), runMs: this.sf(90), endMs: this.sf(15) }, (n) => {
        if (n.method === 'task/output' && (n.params as TaskOutputParams).id === 'linger') w.see();
      }, 'linger');
      return { plan, nonce, largeInputSha256, rec, ...(await w.finish()) };
    } finally {
      job.remove();
    }
  }

  private async runHostile(protocol: ProtocolSession | undefined): Promise<HostileSession> {
    let written: string[] = [];
    try {
      written = guestReport<{ written: string[] }>(protocol && outputOf(protocol.rec, 'rollback-write'), 'rollback-write').written;
    } catch {
      written = []; // the rollback test reports the protocol session's failure
    }
    const plan = hostilePlan(markerName(protocol?.nonce ?? 'none'), this.scale);
    const job = await makeSandboxJob({ 'markers.json': JSON.stringify(written) });
    const digest = (i: SandboxInputs): string => `${treeDigest(i.agentDir)}/${treeDigest(i.tasksDir)}`;
    try {
      const before = digest(job.inputs);
      const t0 = Date.now();
      const instance = await this.backend.start(job.inputs);
      const w = this.watch(instance, [job.inputs.jobDir]);
      const outcome = await runAgentSession(instance, plan, {
        ...DEFAULT_SESSION_LIMITS, bootSeconds: 60 * this.scale.slowFactor, jobSeconds: SESSION_BUDGET_SECONDS.hostile * this.scale.slowFactor,
      }, { taskStarted: () => w.see() });
      this.logHostile(outcome, Date.now() - t0);
      return { plan, outcome, hostFiles: { before, after: digest(job.inputs) }, ...(await w.finish()) };
    } finally {
      job.remove();
    }
  }

  /**
   * Prints each task's end: when it started (seconds after the first task), how long it took, the
   * output, CPU and processes the agent counted; and, for a slow session or a task that ran into its
   * wall-clock limit unexpectedly, the guest console's tail. Evidence in CI logs.
   */
  private logHostile(outcome: SessionOutcome, ms: number): void {
    const tasks = outcome.run?.tasks ?? [];
    const first = Math.min(...tasks.map((t) => t.startedAt ?? Infinity));
    const rows = tasks.map((t) => `  ${t.id}: ${t.status}${t.limit ? ` (${t.limit})` : ''} ${t.durationMs ?? '?'} ms`
      + ` at +${t.startedAt !== undefined ? ((t.startedAt - first) / 1000).toFixed(1) : '?'} s, out ${t.outputBytes ?? '?'} B, cpu ${t.cpuMs ?? '?'} ms, procs ${t.peakProcesses ?? '?'}`);
    process.stderr.write(`conformance ${this.label}: hostile tasks\n${rows.join('\n')}${outcome.infraError ? `\n  infra: ${outcome.infraError.kind} ${outcome.infraError.message}` : ''}\n`);
    const stuck = tasks.filter((t) => t.limit === 'wall-clock' && t.id !== 'limit-wall');
    for (const t of stuck) process.stderr.write(`conformance ${this.label}: ${t.id} ran into its wall-clock limit; its output's end: ${JSON.stringify((t.outputTail ?? '').slice(-300))}\n`);
    if (stuck.length || ms > 0.4 * SESSION_BUDGET_SECONDS.hostile * 1000 * this.scale.slowFactor) {
      process.stderr.write(`conformance ${this.label}: slow hostile session; the guest console's end:\n${outcome.console.slice(-6000)}\n`);
    }
  }

  private async runAudit(): Promise<AuditSession> {
    const dir = mkdtempSync(join(tmpdir(), 'pyti-conformance-audit-'));
    this.outDirs.push(dir);
    const backend = recordingBackend(this.backend);
    let watcher: Watcher | undefined;
    const outcome = await auditDistribution({
      distPath: buildFixture('pyti-sample', 'sdist'),
      wheelhouse: makeWheelhouse(join(dir, 'wheels'), ['pyti-helper']),
      outDir: join(dir, 'out'),
      backend,
      parallel: this.scale.parallel,
      sessionLimits: { ...DEFAULT_SESSION_LIMITS, bootSeconds: 60 * this.scale.slowFactor },
      onProgress: (p) => {
        const job = backend.started[0];
        if (p.kind === 'sandbox-started' && job) watcher = this.watch(job.instance, [job.inputs.jobDir]);
        if (p.kind === 'task-started') watcher?.see();
      },
    });
    const processes = watcher ? await watcher.finish() : { seen: [], leftovers: [], exited: false };
    return { outcome, ...processes };
  }
}
