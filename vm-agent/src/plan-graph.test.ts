import { orderPlan, PlanError } from './plan-graph.js';
import type { Plan, TaskSpec } from './plan.js';

const limits = { wallSeconds: 10, noOutputSeconds: 10, cpuSeconds: 10, memoryBytes: 1e9, processes: 50, outputBytes: 1e6 };
const task = (id: string, over: Partial<TaskSpec> = {}): TaskSpec => ({
  id, title: id, dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', limits, command: ['true'], ...over,
});
const plan = (tasks: TaskSpec[]): Plan => ({ tasks, parallel: 2 });

function problems(p: Plan): string[] {
  try {
    orderPlan(p);
  } catch (err) {
    expect(err).toBeInstanceOf(PlanError);
    expect((err as PlanError).code).toBe('PYTI_PLAN_INVALID');
    return (err as PlanError).problems;
  }
  throw new Error('expected the plan to be rejected');
}

describe('orderPlan', () => {
  it('orders tasks by direct and data dependencies', () => {
    const { order, prerequisites } = orderPlan(plan([
      task('test', { needs: ['venv'] }),
      task('install', { needs: ['wheel'], produces: ['venv'] }),
      task('lint', { dependsOn: ['build'] }),
      task('build', { produces: ['wheel'] }),
    ]));
    const ids = order.map((t) => t.id);
    expect(ids.indexOf('build')).toBeLessThan(ids.indexOf('install'));
    expect(ids.indexOf('install')).toBeLessThan(ids.indexOf('test'));
    expect(ids.indexOf('build')).toBeLessThan(ids.indexOf('lint'));
    expect(prerequisites.get('test')).toEqual(['install']);
  });

  it('rejects a cycle through data and names the tasks in it', () => {
    const p = problems(plan([task('a', { needs: ['y'], produces: ['x'] }), task('b', { needs: ['x'], produces: ['y'] })]));
    expect(p.some((s) => s.startsWith('dependency cycle') && s.includes('a') && s.includes('b'))).toBe(true);
  });

  it('rejects an unknown dependency, data nobody produces and data produced twice, all at once', () => {
    const p = problems(plan([
      task('a', { dependsOn: ['ghost'] }),
      task('b', { needs: ['nothing'] }),
      task('c', { produces: ['x'] }),
      task('d', { produces: ['x'] }),
    ]));
    expect(p).toEqual(expect.arrayContaining([
      'task a depends on unknown task ghost',
      'task b needs data nothing, which no task produces',
      'data x is produced by both c and d',
    ]));
  });

  it('rejects self-dependencies, duplicate ids, bad ids and bad limits', () => {
    const p = problems(plan([task('a', { dependsOn: ['a'] }), task('a'), task('Bad Id'), task('z', { limits: { ...limits, wallSeconds: -1 } })]));
    expect(p).toEqual(expect.arrayContaining(['task a depends on itself', 'task id a appears twice', 'task z: limit wallSeconds must be a positive number']));
    expect(p.some((s) => s.includes('"Bad Id"'))).toBe(true);
  });

  it('accepts lock names and rejects malformed ones', () => {
    expect(() => orderPlan(plan([task('a', { locks: ['home'] }), task('b', { locks: ['home', 'x-1'] })]))).not.toThrow();
    const p = problems(plan([task('a', { locks: ['Home'] }), task('b', { locks: 'home' as unknown as string[] }), task('c', { locks: Array(9).fill('l') })]));
    expect(p).toEqual(expect.arrayContaining(['task a: lock "Home" is not of the form [a-z][a-z0-9-]*', 'task b: locks must be a list of at most 8 names', 'task c: locks must be a list of at most 8 names']));
  });

  it('accepts the known networks and rejects others', () => {
    expect(() => orderPlan(plan([task('a', { network: 'sinkhole' }), task('b', { network: 'none' })]))).not.toThrow();
    expect(problems(plan([task('a', { network: 'internet' as 'none' })]))).toContain('task a: unknown network "internet"');
  });
});

describe('orderPlan with provided data', () => {
  it('accepts data the host provides as produced, waiting for no task', () => {
    const { prerequisites } = orderPlan({ ...plan([task('build', { needs: ['source'], produces: ['wheel'] }), task('lint', { needs: ['source'] })]), provided: ['source'] });
    expect(prerequisites.get('build')).toEqual([]);
    expect(prerequisites.get('lint')).toEqual([]);
  });

  it('rejects provided keys that a task also produces, that are malformed or repeated', () => {
    expect(problems({ ...plan([task('inspect', { produces: ['source'] })]), provided: ['source', 'Bad/../x', 'source'] })).toEqual([
      'provided data key "Bad/../x" is not of the form [a-z][a-z0-9-]*',
      'provided data source appears twice',
      'data source is provided by the host and produced by inspect',
    ]);
  });
});
