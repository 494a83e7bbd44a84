/**
 * Right-sized VM guests: the vCPUs and memory of a job's guest chosen from its plan, instead of one
 * fixed size. A pure function, so that the choice and its reasons can be read and tested.
 *
 * - **vCPUs**: the most tasks of the plan that can ever run at once, given their dependencies and
 *   their exclusive locks (and the plan's `parallel`). A plan with independent tasks gets
 *   `MAX_GUEST_CPUS` when the host has that many cores. A plan whose tasks run one after the other
 *   gets `SEQUENTIAL_PLAN_CPUS`, which is **also 2, as measured** (bench/guest-vcpus.mjs, the
 *   pyti-sample audit under TCG, 2-core host): one task at a time still keeps two vCPUs busy, since
 *   the traced tasks run under strace (tracer and tracee stop and wake each other on every system
 *   call) beside the agent relaying their output, and each vCPU is a host thread under MTTCG. With
 *   1 vCPU every task was slower (build 36–51 s against 27 s, install 21–23 s against 14 s), the
 *   audit 1.3–1.7× longer, with or without lint and style in the guest.
 * - **memory**: the guest's measured baseline (kernel, init, agent; `GUEST_BASELINE_MIB`) plus the
 *   largest memory limit of any task, rounded up to a step of `MEMORY_STEP_MIB` (few distinct sizes:
 *   each size is a warm template and a pool of its own), between `MIN_GUEST_MIB` and `MAX_GUEST_MIB`.
 *   With the default task limits (2 GiB, the test task 4 GiB) that is the cap: today's 1536 MiB.
 */
import type { Plan } from '@pyti/vm-agent';

/** A guest's size and why. */
export interface GuestSize {
  cpus: number;
  memoryMiB: number;
  /** One line per choice, for the report's console and the README. */
  reasons: string[];
}

/** Most vCPUs a guest gets: the machines this runs on have 2 cores shared by every job. */
export const MAX_GUEST_CPUS = 2;
/** vCPUs of a plan whose tasks run one at a time: 2, as measured (see above); 1 would save nothing. */
export const SEQUENTIAL_PLAN_CPUS = 2;
/** Guest memory cap (MiB): what every guest had before sizing; idle guests cost ~300 MB RSS each. */
export const MAX_GUEST_MIB = 1536;
/** Smallest guest (MiB): below this the agent's cgroup reserve (192–512 MiB) leaves tasks too little. */
export const MIN_GUEST_MIB = 1024;
/** What the guest holds before any task (MiB): kernel, page cache of the agent, Node (measured: ~300 MB RSS idle). */
export const GUEST_BASELINE_MIB = 384;
/** Memory sizes come in steps of this (MiB). */
export const MEMORY_STEP_MIB = 512;

/**
 * The most tasks of `plan` that can run at the same moment: the largest set of tasks none of which
 * (transitively) depends on another and no two of which share a lock, capped by `plan.parallel`.
 * Exact for plans of up to 20 tasks (every subset is tried); larger plans count their independent
 * tasks greedily (an upper bound is not needed: the result is only compared with 2).
 */
export function maxConcurrentTasks(plan: Pick<Plan, 'tasks' | 'parallel'>): number {
  const tasks = plan.tasks;
  const index = new Map(tasks.map((t, i) => [t.id, i]));
  // A task waits for the tasks it names in dependsOn and for the producers of the data it needs.
  const producer = new Map<string, string>();
  for (const t of tasks) for (const key of t.produces) producer.set(key, t.id);
  const waitsFor = (t: Plan['tasks'][number]): string[] => [...t.dependsOn, ...t.needs.map((k) => producer.get(k)).filter((x): x is string => x !== undefined)];
  // before[i]: every task i depends on, transitively.
  const before = tasks.map(() => new Set<number>());
  const visit = (i: number, seen: Set<number>): Set<number> => {
    if (seen.has(i)) return before[i]!;
    seen.add(i);
    for (const d of waitsFor(tasks[i]!)) {
      const j = index.get(d);
      if (j === undefined) continue;
      before[i]!.add(j);
      for (const k of visit(j, seen)) before[i]!.add(k);
    }
    return before[i]!;
  };
  tasks.forEach((_, i) => visit(i, new Set()));
  const compatible = (a: number, b: number): boolean =>
    !before[a]!.has(b) && !before[b]!.has(a) && !(tasks[a]!.locks ?? []).some((l) => (tasks[b]!.locks ?? []).includes(l));
  let best = tasks.length ? 1 : 0;
  if (tasks.length <= 20) {
    for (let mask = 1; mask < 1 << tasks.length; mask++) {
      const members: number[] = [];
      for (let i = 0; i < tasks.length; i++) if (mask & (1 << i)) members.push(i);
      if (members.length <= best) continue;
      if (members.every((a, x) => members.slice(x + 1).every((b) => compatible(a, b)))) best = members.length;
    }
  } else {
    const chosen: number[] = [];
    tasks.forEach((_, i) => {
      if (chosen.every((c) => compatible(c, i))) chosen.push(i);
    });
    best = chosen.length;
  }
  return Math.max(0, Math.min(best, plan.parallel));
}

/**
 * The guest for `plan` on a host with `hostCores` cores. Pure: same plan and cores, same size.
 * `cpus.parallel` is how many vCPUs a plan with independent tasks gets (default MAX_GUEST_CPUS),
 * `cpus.sequential` one whose tasks run one at a time (default SEQUENTIAL_PLAN_CPUS); never more
 * than the host's cores.
 */
export function guestSizeFor(
  plan: Pick<Plan, 'tasks' | 'parallel'>, hostCores: number, cpuChoice: { parallel?: number; sequential?: number } = {},
): GuestSize {
  const reasons: string[] = [];
  const together = maxConcurrentTasks(plan);
  const cpusWanted = together >= 2 ? cpuChoice.parallel ?? MAX_GUEST_CPUS : cpuChoice.sequential ?? SEQUENTIAL_PLAN_CPUS;
  const cpus = Math.max(1, Math.min(cpusWanted, hostCores));
  const capped = cpus < cpusWanted ? ` (capped at ${cpus}: ${hostCores} host core${hostCores > 1 ? 's' : ''})` : '';
  reasons.push(together >= 2
    ? `${cpus} vCPU${cpus > 1 ? 's' : ''}: up to ${together} tasks can run at once${capped}`
    : `${cpus} vCPU${cpus > 1 ? 's' : ''}: the plan's tasks run one after the other${cpus > 1 ? ', and a traced task keeps two busy (strace beside the tracee; measured 1.3–1.7× faster than 1 vCPU)' : ''}${capped}`);
  const largest = plan.tasks.reduce((m, t) => Math.max(m, t.limits.memoryBytes), 0) / 2 ** 20;
  const wanted = Math.ceil((GUEST_BASELINE_MIB + largest) / MEMORY_STEP_MIB) * MEMORY_STEP_MIB;
  const memoryMiB = Math.min(MAX_GUEST_MIB, Math.max(MIN_GUEST_MIB, wanted));
  reasons.push(`${memoryMiB} MiB: ${GUEST_BASELINE_MIB} MiB baseline + largest task limit ${Math.round(largest)} MiB`
    + `${wanted > MAX_GUEST_MIB ? `, capped at ${MAX_GUEST_MIB} MiB` : wanted < MIN_GUEST_MIB ? `, at least ${MIN_GUEST_MIB} MiB` : ''}`);
  return { cpus, memoryMiB, reasons };
}
