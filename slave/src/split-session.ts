/**
 * One audit attempt on a VM backend, split by where each task runs (tasks/src task-placement.ts):
 * the static tasks in the host's bubblewrap sandbox, the rest in the VM guest, as one plan and one
 * outcome. The host first runs `inspect` alone in bwrap, its data store a host directory; its `source`
 * and `meta` are copied (untrusted: copyProvidedData) into the job's input as `pyti-data/<key>`; then
 * the guest (without inspect, lint or style) and a second bwrap sandbox (lint and style) run at the same
 * time, each agent seeding its data store from that input (Plan.provided). The outcomes are merged:
 * task results in plan order, raw data and output of every stage, the guest's hello and console.
 *
 * Failures: an infrastructure failure of any stage is the attempt's (the first one wins) and ends the
 * other stages; an inspect that does not pass skips every later task, as a halt would in one session.
 * Aborting (signal) ends every sandbox.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan, RunResult, TaskResult } from '@pyti/vm-agent';
import type { SplitPlan } from '@pyti/tasks';
import type { InfraError } from '@pyti/common';
import type { Backend, SandboxInputs, SandboxInstance } from './backends/backend.js';
import { runAgentSession, type SessionEvents, type SessionLimits, type SessionOutcome } from './agent-session.js';
import { copyProvidedData } from './input/provided-data-copy.js';

/** The directory of the job's input the provided data goes to (the agent's PROVIDED_DATA_DIR). */
export const PROVIDED_INPUT_DIR = 'pyti-data';

export interface SplitSessionInput {
  /** The whole plan (its order is the report's). */
  plan: Plan;
  split: SplitPlan;
  /** The VM backend the guest part runs on. */
  guest: Backend;
  /** The process sandbox (bwrap) the static tasks run in. */
  host: Backend;
  /** The job's inputs (inputDir, wheelhouse, …); `inputDir` gets `pyti-data/` added. */
  inputs: SandboxInputs;
  limits: SessionLimits;
  /** Events of every stage; `hello` is the guest's only. */
  events: SessionEvents;
  /** Called when the guest's sandbox has started. */
  guestStarted?: () => void;
  signal?: AbortSignal;
}

/** Runs the split attempt; resolves with the merged outcome (every sandbox ended). */
export async function runSplitSessions(input: SplitSessionInput): Promise<SessionOutcome> {
  const { plan, split, limits, events, signal } = input;
  const t0 = Date.now();
  const live = new Set<SandboxInstance>();
  const endAll = (): void => {
    for (const i of live) void i.dispose().catch(() => undefined);
  };
  signal?.addEventListener('abort', endAll, { once: true });
  const outcomes: SessionOutcome[] = [];
  let firstInfra: InfraError | undefined;
  const hostEvents: SessionEvents = { taskStarted: events.taskStarted, taskOutput: events.taskOutput, taskFinished: events.taskFinished };
  /** Starts one stage's sandbox and runs its plan; an infrastructure failure ends the other stages. */
  const stage = async (backend: Backend, stageInputs: SandboxInputs, stagePlan: Plan, stageEvents: SessionEvents, started?: () => void): Promise<SessionOutcome> => {
    let instance: SandboxInstance;
    try {
      signal?.throwIfAborted();
      instance = await backend.start(stageInputs);
    } catch (err) {
      signal?.throwIfAborted();
      const o: SessionOutcome = { raw: new Map(), output: new Map(), console: '', infraError: { kind: 'error:sandbox', message: `${backend.name} could not start: ${(err as Error).message}` } };
      firstInfra ??= o.infraError;
      endAll();
      return o;
    }
    live.add(instance);
    if (signal?.aborted || firstInfra) void instance.dispose();
    started?.();
    const o = await runAgentSession(instance, stagePlan, limits, stageEvents);
    live.delete(instance);
    if (o.infraError && !signal?.aborted) {
      firstInfra ??= o.infraError;
      endAll();
    }
    return o;
  };
  try {
    let firstOk = true;
    if (split.first) {
      const dataDir = join(input.inputs.jobDir, 'host-data');
      mkdirSync(dataDir, { mode: 0o755 });
      const first = await stage(input.host, { ...input.inputs, jobDir: subJobDir(input.inputs.jobDir, 'host-first'), dataDir }, split.first, hostEvents);
      outcomes.push(first);
      signal?.throwIfAborted();
      const failedTask = first.run?.tasks.find((t) => t.status !== 'pass');
      firstOk = !first.infraError && !!first.run && !failedTask;
      if (firstOk) {
        try {
          copyProvidedData(dataDir, join(input.inputs.inputDir, PROVIDED_INPUT_DIR), split.provided);
        } catch (err) {
          firstOk = false;
          firstInfra ??= { kind: 'error:sandbox', message: `the host sandbox's data could not be given to the guest: ${(err as Error).message}` };
        }
      } else if (failedTask) {
        // As a halt in one session: nothing later runs.
        const spec = split.first.tasks.find((t) => t.id === failedTask.id)!;
        const reason = spec.failurePolicy === 'halt' ? `run halted by ${failedTask.id}` : `dependency ${failedTask.id} did not pass (${failedTask.status})`;
        const skipped = plan.tasks.filter((t) => !split.first!.tasks.some((f) => f.id === t.id))
          .map((t): TaskResult => ({ id: t.id, status: 'skipped', reason, rawFiles: [] }));
        for (const r of skipped) events.taskFinished?.(r);
        outcomes.push({ raw: new Map(), output: new Map(), console: '', run: { verdict: 'fail', tasks: skipped, durationMs: 0, ...(spec.failurePolicy === 'halt' ? { haltedBy: failedTask.id } : {}) } });
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
    if (firstOk) {
      const later = await Promise.all([
        split.guest ? stage(input.guest, input.inputs, split.guest, events, input.guestStarted) : undefined,
        split.beside ? stage(input.host, { ...input.inputs, jobDir: subJobDir(input.inputs.jobDir, 'host-beside') }, split.beside, hostEvents) : undefined,
      ]);
      // The guest's outcome first: its hello, boot time and console lead the merged outcome.
      outcomes.unshift(...later.filter((o): o is SessionOutcome => o !== undefined));
    }
    signal?.throwIfAborted();
    return mergeOutcomes(plan, outcomes, firstInfra, Date.now() - t0);
  } finally {
    signal?.removeEventListener('abort', endAll);
    endAll();
  }
}

function subJobDir(jobDir: string, name: string): string {
  const d = join(jobDir, name);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  return d;
}

/**
 * One outcome of several stages' outcomes: results in `plan`'s order (a task no stage reported stays
 * out, as in one session cut short), the verdict as the execution manager computes it, raw data and
 * output of all, the first outcome's hello, boot and run times, the consoles one after the other.
 */
export function mergeOutcomes(plan: Plan, outcomes: SessionOutcome[], infraError: InfraError | undefined, durationMs: number): SessionOutcome {
  const results = new Map<string, TaskResult>();
  const merged: SessionOutcome = { raw: new Map(), output: new Map(), console: '' };
  let haltedBy: string | undefined;
  for (const o of outcomes) {
    for (const r of o.run?.tasks ?? []) if (!results.has(r.id) || results.get(r.id)!.status === 'skipped') results.set(r.id, r);
    haltedBy ??= o.run?.haltedBy;
    for (const [k, v] of o.raw) merged.raw.set(k, v);
    for (const [k, v] of o.output) merged.output.set(k, v);
  }
  const lead = outcomes.find((o) => o.hello) ?? outcomes[0];
  if (lead) {
    merged.hello = lead.hello;
    merged.bootMs = lead.bootMs;
    merged.runMs = lead.runMs;
  }
  merged.console = outcomes.map((o) => o.console).filter(Boolean).join('\n--- host sandbox (static tasks) ---\n');
  merged.infraError = infraError ?? outcomes.find((o) => o.infraError)?.infraError;
  const tasks = plan.tasks.map((t) => results.get(t.id)).filter((r): r is TaskResult => r !== undefined);
  if (outcomes.some((o) => o.run)) {
    const failed = plan.tasks.filter((t) => { const s = results.get(t.id)?.status; return s !== undefined && s !== 'pass' && s !== 'skipped'; });
    const verdict: RunResult['verdict'] = failed.some((t) => t.failurePolicy !== 'warn') ? 'fail' : failed.length ? 'warn' : 'pass';
    merged.run = { verdict, haltedBy, tasks, durationMs };
  }
  return merged;
}
