/**
 * Where each audit task runs when the backend is a VM: the static tasks (they read the distribution
 * and its source, and run none of its code) run in the host's bubblewrap sandbox, the rest in the
 * guest. As data: HOST_STATIC_TASKS names them and splitPlanForVm splits a plan accordingly.
 *
 * Security: a task may be listed here only if it runs no code of the package: `inspect` unpacks the
 * archive and parses its metadata as text (inspect_dist.py); `lint` (pylint) and `style`
 * (pycodestyle) read the source (lint_source.py runs them isolated from the package's files, with
 * our own configuration: see its docstring). They still run sandboxed, never on the host itself.
 */
import type { Plan, TaskSpec } from '@pyti/vm-agent';

/** Where a task ran, as the report says it. */
export type TaskPlace = 'host-bwrap' | 'guest';

/** The tasks that may run in the host's bubblewrap sandbox beside a VM. */
export const HOST_STATIC_TASKS: ReadonlySet<string> = new Set(['inspect', 'lint', 'style']);

/** A plan split into the host's two stages and the guest's part. */
export interface SplitPlan {
  /**
   * Host, first and alone: the static tasks whose data the others need (inspect → source, meta).
   * Their produced data is given to `beside` and `guest` as `provided`.
   */
  first?: Plan;
  /** Host, at the same time as the guest: the other static tasks (lint, style), given `provided`. */
  beside?: Plan;
  /** The guest: every other task, given `provided`. */
  guest?: Plan;
  /** Data keys `first` produces and the later stages are given. */
  provided: string[];
  /** Task id → where it runs, for every task of the plan. */
  where: Record<string, TaskPlace>;
}

/**
 * Splits `plan` for a VM backend. A static task stays in the guest when it cannot move: when it needs
 * data, or depends on a task, that does not run on the host before it, or when a guest task depends
 * on it by `dependsOn` without needing its data. Pure: the tasks are not changed, except that a
 * `dependsOn` on a task of `first` is dropped (the later stages start only after `first` passed).
 * A plan with no static task to move comes back as `guest` alone, unchanged.
 */
export function splitPlanForVm(plan: Plan, hostTasks: ReadonlySet<string> = HOST_STATIC_TASKS): SplitPlan {
  const tasks = plan.tasks;
  // First stage: static tasks that need nothing and depend on nothing, and produce data.
  const first = new Set(tasks.filter((t) => hostTasks.has(t.id) && t.produces.length > 0 && !t.needs.length && !t.dependsOn.length).map((t) => t.id));
  const firstKeys = new Set(tasks.filter((t) => first.has(t.id)).flatMap((t) => t.produces));
  // Beside: static tasks producing nothing, whose needs come from the first stage only and that depend on nothing else.
  const beside = new Set(tasks.filter((t) => hostTasks.has(t.id) && !first.has(t.id) && !t.produces.length
    && t.needs.every((k) => firstKeys.has(k)) && t.dependsOn.every((d) => first.has(d))).map((t) => t.id));
  // A guest task ordering itself after a `beside` task (without data) keeps that task in the guest.
  for (const t of tasks) {
    if (first.has(t.id) || beside.has(t.id)) continue;
    for (const d of t.dependsOn) beside.delete(d);
  }
  if (!first.size && !beside.size) return { guest: plan, provided: [], where: Object.fromEntries(tasks.map((t) => [t.id, 'guest' as const])) };
  const provided = [...firstKeys].filter((k) => tasks.some((t) => !first.has(t.id) && t.needs.includes(k)));
  const later = (t: TaskSpec): TaskSpec => (t.dependsOn.some((d) => first.has(d)) ? { ...t, dependsOn: t.dependsOn.filter((d) => !first.has(d)) } : t);
  const stage = (keep: (t: TaskSpec) => boolean, given: boolean): Plan | undefined => {
    const sel = tasks.filter(keep).map(later);
    if (!sel.length) return undefined;
    const needed = given ? provided.filter((k) => sel.some((t) => t.needs.includes(k))) : [];
    return { ...plan, tasks: sel, ...(needed.length ? { provided: needed } : {}) };
  };
  const where: Record<string, TaskPlace> = {};
  for (const t of tasks) where[t.id] = first.has(t.id) || beside.has(t.id) ? 'host-bwrap' : 'guest';
  return {
    first: stage((t) => first.has(t.id), false),
    beside: stage((t) => beside.has(t.id), true),
    guest: stage((t) => where[t.id] === 'guest', true),
    provided,
    where,
  };
}
