/**
 * The execution manager: runs a validated plan's tasks in dependency order, independent tasks in
 * parallel up to `plan.parallel` (tasks sharing a lock one at a time and in one slot), applying
 * failure policies and skipping every task downstream of one that did not pass.
 */
import type { Plan, RunResult, TaskResult, TaskSpec } from './plan.js';
import { orderPlan } from './plan-graph.js';

/** Runs one task; `slot` (0..parallel-1) is free for the task's whole run. Must not reject. */
export interface TaskExecutor {
  execute(task: TaskSpec, slot: number, events: ExecutionEvents): Promise<TaskResult>;
}

export interface ExecutionEvents {
  started?(id: string, startedAt: number): void;
  finished?(result: TaskResult): void;
}

/**
 * Runs `plan` with `executor`. Throws PlanError (before anything runs) for an invalid plan;
 * task failures are data in the result, never exceptions.
 */
export async function runPlan(plan: Plan, executor: TaskExecutor, events: ExecutionEvents = {}): Promise<RunResult> {
  const t0 = Date.now();
  const { order, prerequisites } = orderPlan(plan);
  const results = new Map<string, TaskResult>();
  const running = new Map<string, Promise<{ id: string; slot: number }>>();
  const freeSlots = Array.from({ length: plan.parallel }, (_, i) => i);
  const heldLocks = new Set<string>();
  const lockSlots = new Map<string, number>();
  let haltedBy: string | undefined;
  let pending = [...order];

  const finishSkipped = (task: TaskSpec, reason: string): void => {
    const r: TaskResult = { id: task.id, status: 'skipped', reason, rawFiles: [] };
    results.set(task.id, r);
    events.finished?.(r);
  };

  while (pending.length || running.size) {
    // Settle what can be settled without running: skips caused by a halt or by failed prerequisites.
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const task of [...pending]) {
        if (haltedBy) {
          finishSkipped(task, `run halted by ${haltedBy}`);
        } else {
          const bad = prerequisites.get(task.id)!.map((p) => results.get(p)).find((r) => r && r.status !== 'pass');
          if (!bad) continue;
          finishSkipped(task, bad.status === 'skipped' ? `dependency ${bad.id} was skipped` : `dependency ${bad.id} did not pass (${bad.status})`);
        }
        pending = pending.filter((t) => t !== task);
        progressed = true;
      }
    }
    // Start every ready task while slots are free, in topological order.
    for (const task of [...pending]) {
      if (!freeSlots.length) break;
      const ready = prerequisites.get(task.id)!.every((p) => results.get(p)?.status === 'pass');
      const locks = task.locks ?? [];
      if (!ready || locks.some((l) => heldLocks.has(l))) continue;
      // A lock keeps the slot (the uid) its first task ran in: the next task sharing it is the same user.
      const slot = locks.map((l) => lockSlots.get(l)).find((s) => s !== undefined) ?? freeSlots[0]!;
      if (!freeSlots.includes(slot)) continue;
      freeSlots.splice(freeSlots.indexOf(slot), 1);
      pending = pending.filter((t) => t !== task);
      for (const l of locks) {
        heldLocks.add(l);
        if (!lockSlots.has(l)) lockSlots.set(l, slot);
      }
      const p = executor.execute(task, slot, events).then(
        (r) => {
          results.set(task.id, r);
          return { id: task.id, slot };
        },
        (err: unknown) => {
          results.set(task.id, { id: task.id, status: 'error', reason: `executor failed: ${String(err)}`, rawFiles: [] });
          return { id: task.id, slot };
        },
      );
      running.set(task.id, p);
    }
    if (!running.size) {
      if (pending.length) throw new Error(`scheduler stalled with ${pending.map((t) => t.id).join(', ')} pending`);
      break;
    }
    const done = await Promise.race(running.values());
    running.delete(done.id);
    freeSlots.push(done.slot);
    freeSlots.sort((a, b) => a - b);
    const r = results.get(done.id)!;
    events.finished?.(r);
    const spec = order.find((t) => t.id === done.id)!;
    for (const l of spec.locks ?? []) heldLocks.delete(l);
    if (r.status !== 'pass' && spec.failurePolicy === 'halt' && !haltedBy) haltedBy = done.id;
  }

  const tasks = order.map((t) => results.get(t.id)!);
  // Skips are consequences: the verdict comes from the tasks that actually ran and did not pass.
  const ran = order.filter((t) => !['pass', 'skipped'].includes(results.get(t.id)!.status));
  const verdict: RunResult['verdict'] = ran.some((t) => t.failurePolicy !== 'warn')
    ? 'fail'
    : ran.length
      ? 'warn'
      : 'pass';
  return { verdict, haltedBy, tasks, durationMs: Date.now() - t0 };
}
