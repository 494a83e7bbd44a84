/**
 * Validation and ordering of a plan's task graph (@dagrejs/graphlib). A task depends on the tasks it
 * names in `dependsOn` and on the producer of every data key it `needs`.
 */
import { Graph, alg } from '@dagrejs/graphlib';
import type { Plan, TaskSpec } from './plan.js';
import { PytiError } from './errors.js';

/** A plan that cannot run; `problems` lists every reason found, not just the first. */
export class PlanError extends PytiError {
  constructor(readonly problems: string[]) {
    super('PYTI_PLAN_INVALID', `invalid plan: ${problems.join('; ')}`);
    this.name = 'PlanError';
  }
}

/** A validated plan: tasks in a topological order and each task's prerequisites. */
export interface OrderedPlan {
  order: TaskSpec[];
  /** task id → ids of the tasks it waits for (direct and through data). */
  prerequisites: Map<string, string[]>;
  /** data key → id of the task producing it (keys the host provides are not in it). */
  producers: Map<string, string>;
}

const ID = /^[a-z][a-z0-9-]{0,63}$/;
const DATA_KEY = /^[a-z][a-z0-9-]{0,63}$/;

/**
 * Checks a plan before anything runs: ids, limits, lock names, unknown dependencies, data that no
 * task (or two tasks) produce, and cycles through dependencies or data. Throws PlanError listing all problems.
 */
export function orderPlan(plan: Plan): OrderedPlan {
  const problems: string[] = [];
  if (!Array.isArray(plan.tasks) || plan.tasks.length === 0) throw new PlanError(['the plan has no tasks']);
  if (!Number.isInteger(plan.parallel) || plan.parallel < 1 || plan.parallel > 8) problems.push(`parallel must be 1..8, got ${plan.parallel}`);
  const byId = new Map<string, TaskSpec>();
  for (const t of plan.tasks) {
    if (!ID.test(t.id)) problems.push(`task id ${JSON.stringify(t.id)} is not of the form [a-z][a-z0-9-]*`);
    if (byId.has(t.id)) problems.push(`task id ${t.id} appears twice`);
    byId.set(t.id, t);
    if (!Array.isArray(t.command) || t.command.length === 0) problems.push(`task ${t.id} has no command`);
    for (const [k, v] of Object.entries(t.limits ?? {})) {
      if (typeof v !== 'number' || !(v > 0)) problems.push(`task ${t.id}: limit ${k} must be a positive number`);
    }
    for (const k of ['wallSeconds', 'noOutputSeconds', 'cpuSeconds', 'memoryBytes', 'processes', 'outputBytes'] as const) {
      if (t.limits?.[k] === undefined) problems.push(`task ${t.id}: limit ${k} is missing`);
    }
    if (!['halt', 'flunk', 'warn'].includes(t.failurePolicy)) problems.push(`task ${t.id}: unknown failure policy ${t.failurePolicy}`);
    if (t.network !== undefined && t.network !== 'none' && t.network !== 'sinkhole') problems.push(`task ${t.id}: unknown network ${JSON.stringify(t.network)}`);
    if (t.locks !== undefined) {
      if (!Array.isArray(t.locks) || t.locks.length > 8) problems.push(`task ${t.id}: locks must be a list of at most 8 names`);
      else for (const l of t.locks) if (typeof l !== 'string' || !ID.test(l)) problems.push(`task ${t.id}: lock ${JSON.stringify(l)} is not of the form [a-z][a-z0-9-]*`);
    }
  }
  const producers = new Map<string, string>();
  // Keys the host provides (Plan.provided) count as produced, by no task: needing one waits for nothing.
  const provided = new Set<string>();
  if (plan.provided !== undefined) {
    if (!Array.isArray(plan.provided) || plan.provided.length > 16) problems.push('provided must be a list of at most 16 data keys');
    else for (const key of plan.provided) {
      if (typeof key !== 'string' || !DATA_KEY.test(key)) problems.push(`provided data key ${JSON.stringify(key)} is not of the form [a-z][a-z0-9-]*`);
      else if (provided.has(key)) problems.push(`provided data ${key} appears twice`);
      else provided.add(key);
    }
  }
  for (const t of plan.tasks) {
    for (const key of t.produces) {
      if (!DATA_KEY.test(key)) problems.push(`task ${t.id}: data key ${JSON.stringify(key)} is not of the form [a-z][a-z0-9-]*`);
      const other = producers.get(key);
      if (provided.has(key)) problems.push(`data ${key} is provided by the host and produced by ${t.id}`);
      else if (other) problems.push(`data ${key} is produced by both ${other} and ${t.id}`);
      else producers.set(key, t.id);
    }
  }
  const graph = new Graph({ directed: true });
  for (const t of plan.tasks) graph.setNode(t.id);
  const prerequisites = new Map<string, string[]>();
  for (const t of plan.tasks) {
    const pre = new Set<string>();
    for (const d of t.dependsOn) {
      if (!byId.has(d)) problems.push(`task ${t.id} depends on unknown task ${d}`);
      else pre.add(d);
    }
    for (const key of t.needs) {
      if (provided.has(key)) continue;
      const p = producers.get(key);
      if (!p) problems.push(`task ${t.id} needs data ${key}, which no task produces`);
      else pre.add(p);
    }
    if (pre.has(t.id)) problems.push(`task ${t.id} depends on itself`);
    pre.delete(t.id);
    for (const p of pre) graph.setEdge(p, t.id);
    prerequisites.set(t.id, [...pre]);
  }
  const cycles = alg.findCycles(graph);
  for (const c of cycles) problems.push(`dependency cycle: ${[...c].reverse().join(' -> ')} -> ${c[c.length - 1]}`);
  if (problems.length) throw new PlanError(problems);
  const ids = alg.topsort(graph);
  // topsort gives a valid order; keep the plan's own order among independent tasks for readability.
  const rank = new Map(plan.tasks.map((t, i) => [t.id, i]));
  const order = stableTopologicalOrder(ids, prerequisites, rank).map((id) => byId.get(id)!);
  return { order, prerequisites, producers };
}

function stableTopologicalOrder(ids: string[], pre: Map<string, string[]>, rank: Map<string, number>): string[] {
  const done = new Set<string>();
  const out: string[] = [];
  const remaining = [...ids].sort((a, b) => rank.get(a)! - rank.get(b)!);
  while (remaining.length) {
    const i = remaining.findIndex((id) => pre.get(id)!.every((p) => done.has(p)));
    const [id] = remaining.splice(i, 1);
    done.add(id!);
    out.push(id!);
  }
  return out;
}
