import { orderPlan } from '@pyti/vm-agent';
import { auditPlan } from './audit-tasks.js';
import type { PlanBait } from './bait-tasks.js';
import { HOST_STATIC_TASKS, splitPlanForVm } from './task-placement.js';

const bait: PlanBait = { files: [{ path: '~/.aws/credentials', contentBase64: 'eA==' }], canaries: [{ id: 'aws', value: 'AKIAX' }] };
const ids = (p?: { tasks: { id: string }[] }): string[] => (p ? p.tasks.map((t) => t.id) : []);

describe('splitPlanForVm', () => {
  it('runs inspect first on the host, lint and style beside the guest, and everything that runs package code in the guest', () => {
    const plan = auditPlan({ distFile: 'pkg-1.0.tar.gz', bait, perf: true });
    const s = splitPlanForVm(plan);
    expect(ids(s.first)).toEqual(['inspect']);
    expect(ids(s.beside)).toEqual(['lint', 'style']);
    expect(ids(s.guest)).toEqual(['bait', 'build', 'install', 'import', 'test', 'perf', 'execute', 'coverage', 'bait-check']);
    expect(s.provided.sort()).toEqual(['meta', 'source']);
    expect(s.first!.provided).toBeUndefined();
    expect(s.beside!.provided).toEqual(['source']);
    expect(s.guest!.provided!.sort()).toEqual(['meta', 'source']);
    for (const id of ['inspect', 'lint', 'style']) expect(s.where[id]).toBe('host-bwrap');
    for (const id of ids(s.guest)) expect(s.where[id]).toBe('guest');
    // Every stage is a valid plan on its own (the agent checks them the same way), with the plan's parallelism.
    for (const p of [s.first!, s.beside!, s.guest!]) {
      expect(() => orderPlan(p)).not.toThrow();
      expect(p.parallel).toBe(plan.parallel);
    }
    // Nothing lost, nothing doubled, and the tasks themselves unchanged.
    const all = [...ids(s.first), ...ids(s.beside), ...ids(s.guest)];
    expect(all.sort()).toEqual(ids(plan).sort());
    expect(s.guest!.tasks.find((t) => t.id === 'build')).toEqual(plan.tasks.find((t) => t.id === 'build'));
  });

  it('leaves out of the host plans what the options left out', () => {
    const s = splitPlanForVm(auditPlan({ distFile: 'pkg-1.0.tar.gz', skip: ['lint', 'style'] }));
    expect(ids(s.first)).toEqual(['inspect']);
    expect(s.beside).toBeUndefined();
    expect(s.provided.sort()).toEqual(['meta', 'source']);
  });

  it('keeps a static task in the guest when a guest task orders itself after it, or when it needs guest data', () => {
    const plan = auditPlan({ distFile: 'pkg-1.0.tar.gz' });
    const after = { ...plan, tasks: plan.tasks.map((t) => (t.id === 'coverage' ? { ...t, dependsOn: ['lint'] } : t.id === 'style' ? { ...t, needs: ['source', 'venv'] } : t)) };
    const s = splitPlanForVm(after);
    expect(ids(s.beside)).toEqual([]);
    expect(s.where.lint).toBe('guest');
    expect(s.where.style).toBe('guest');
    expect(ids(s.guest)).toContain('lint');
    expect(() => orderPlan(s.guest!)).not.toThrow();
  });

  it('drops a dependency on a first-stage task (the later stages start only after it passed)', () => {
    const plan = auditPlan({ distFile: 'pkg-1.0.tar.gz' });
    const withDep = { ...plan, tasks: plan.tasks.map((t) => (t.id === 'build' ? { ...t, dependsOn: ['inspect'] } : t)) };
    const s = splitPlanForVm(withDep);
    expect(s.guest!.tasks.find((t) => t.id === 'build')!.dependsOn).toEqual([]);
    expect(() => orderPlan(s.guest!)).not.toThrow();
  });

  it('leaves a plan without static tasks whole in the guest', () => {
    const plan = auditPlan({ distFile: 'pkg-1.0.tar.gz' });
    const s = splitPlanForVm(plan, new Set());
    expect(s.guest).toBe(plan);
    expect(s.first).toBeUndefined();
    expect(Object.values(s.where).every((w) => w === 'guest')).toBe(true);
    expect([...HOST_STATIC_TASKS].sort()).toEqual(['inspect', 'lint', 'style']);
  });
});
