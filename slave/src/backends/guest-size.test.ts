// Right-sized guests: the size the real audit plans get, and why, from the pure function.
import { auditPlan } from '@pyti/tasks';
import { guestSizeFor, maxConcurrentTasks, MAX_GUEST_MIB } from './guest-size.js';

const MiB = 2 ** 20;
const IDS = auditPlan({ distFile: 'p-1.tar.gz' }).tasks.map((t) => t.id);
const allLimited = (memoryBytes: number) => Object.fromEntries(IDS.map((id) => [id, { memoryBytes }]));

describe('guest size per plan', () => {
  it('counts the tasks that can run together through data dependencies and locks', () => {
    // build → install → {import, test, execute} share the package-home lock; coverage (after test) may run beside execute.
    expect(maxConcurrentTasks(auditPlan({ distFile: 'p-1.tar.gz', skip: ['lint', 'style'] }))).toBe(2);
    // Lint and style need only the source: they may run beside anything after inspect (e.g. execute and coverage).
    expect(maxConcurrentTasks(auditPlan({ distFile: 'p-1.tar.gz', parallel: 4 }))).toBe(4);
    expect(maxConcurrentTasks(auditPlan({ distFile: 'p-1.tar.gz', parallel: 2 }))).toBe(2);
    // Without coverage, the rest is a chain: one at a time.
    expect(maxConcurrentTasks(auditPlan({ distFile: 'p-1.tar.gz', skip: ['lint', 'style', 'coverage'] }))).toBe(1);
    expect(maxConcurrentTasks(auditPlan({ distFile: 'p-1.tar.gz', parallel: 1 }))).toBe(1);
  });

  it('gives plans with independent tasks 2 vCPUs, sequential plans the measured default (2; 1 when asked), never more than the host has, with reasons', () => {
    const chain = auditPlan({ distFile: 'p-1.tar.gz', skip: ['lint', 'style', 'coverage'] });
    const seq = guestSizeFor(chain, 2);
    expect(seq.cpus).toBe(2);
    expect(seq.reasons[0]).toMatch(/one after the other, and a traced task keeps two busy/);
    expect(guestSizeFor(chain, 2, { sequential: 1 }).cpus).toBe(1);
    expect(guestSizeFor(chain, 2, { sequential: 1 }).reasons[0]).toBe("1 vCPU: the plan's tasks run one after the other");
    const par = guestSizeFor(auditPlan({ distFile: 'p-1.tar.gz' }), 2);
    expect(par.cpus).toBe(2);
    expect(par.reasons[0]).toMatch(/can run at once/);
    expect(guestSizeFor(auditPlan({ distFile: 'p-1.tar.gz' }), 1)).toMatchObject({ cpus: 1, reasons: [expect.stringContaining('capped at 1: 1 host core'), expect.any(String)] });
  });

  it('sizes memory from the largest task limit over the baseline, in steps, within the bounds', () => {
    // Default limits (the test task may hold 4 GiB): the cap, as every guest had before.
    expect(guestSizeFor(auditPlan({ distFile: 'p-1.tar.gz' }), 2).memoryMiB).toBe(MAX_GUEST_MIB);
    const small = guestSizeFor(auditPlan({ distFile: 'p-1.tar.gz', limits: allLimited(256 * MiB) }), 2);
    expect(small.memoryMiB).toBe(1024);
    expect(small.reasons[1]).toMatch(/largest task limit 256 MiB/);
    const mid = guestSizeFor(auditPlan({ distFile: 'p-1.tar.gz', limits: allLimited(1000 * MiB) }), 2);
    expect(mid.memoryMiB).toBe(1536);
  });
});
