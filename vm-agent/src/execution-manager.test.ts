import { runPlan } from './execution-manager.js';
import { GuestTaskExecutor } from './task-executor.js';
import type { Plan, TaskResult, TaskSpec } from './plan.js';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Real processes through the real executor, as the agent's own user (no uid switch in unit tests).
const limits = { wallSeconds: 20, noOutputSeconds: 20, cpuSeconds: 20, memoryBytes: 2e9, processes: 100, outputBytes: 1e6 };
const sh = (id: string, script: string, over: Partial<TaskSpec> = {}): TaskSpec => ({
  id, title: id, dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', limits, command: ['sh', '-c', script], ...over,
});

let work: string;
let executor: GuestTaskExecutor;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'pyti-em-'));
  for (const d of ['input', 'home', 'tmp']) mkdirSync(join(work, d));
  executor = new GuestTaskExecutor({ work, input: join(work, 'input'), wheelhouse: join(work, 'input'), tasks: work, home: join(work, 'home'), tmp: join(work, 'tmp') });
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const byId = (tasks: TaskResult[]): Record<string, TaskResult> => Object.fromEntries(tasks.map((t) => [t.id, t]));

describe('runPlan', () => {
  it('passes data from producer to consumer through the data store', async () => {
    const plan: Plan = { parallel: 2, tasks: [
      sh('make', 'echo hello > {data:greeting}/msg', { produces: ['greeting'] }),
      sh('use', 'grep -q hello {data:greeting}/msg && cp {data:greeting}/msg {raw}/copy', { needs: ['greeting'] }),
    ] };
    const r = await runPlan(plan, executor);
    expect(r.verdict).toBe('pass');
    expect(byId(r.tasks).use!.status).toBe('pass');
    expect(byId(r.tasks).use!.rawFiles).toEqual(['copy']);
  });

  it('skips every task downstream of a failure, transitively, with the reason', async () => {
    const r = await runPlan({ parallel: 2, tasks: [
      sh('a', 'exit 3', { produces: ['x'] }),
      sh('b', 'true', { needs: ['x'], produces: ['y'] }),
      sh('c', 'true', { needs: ['y'] }),
      sh('d', 'true'),
    ] }, executor);
    const t = byId(r.tasks);
    expect(t.a).toMatchObject({ status: 'fail', exitCode: 3 });
    expect(t.b).toMatchObject({ status: 'skipped', reason: 'dependency a did not pass (fail)' });
    expect(t.c).toMatchObject({ status: 'skipped', reason: 'dependency b was skipped' });
    expect(t.d!.status).toBe('pass');
    expect(r.verdict).toBe('fail');
  });

  it('halts the run on a halt-policy failure, and only warns for a warn-policy one', async () => {
    const halted = await runPlan({ parallel: 1, tasks: [sh('first', 'exit 1', { failurePolicy: 'halt' }), sh('second', 'true')] }, executor);
    expect(halted.haltedBy).toBe('first');
    expect(byId(halted.tasks).second).toMatchObject({ status: 'skipped', reason: 'run halted by first' });
    const warned = await runPlan({ parallel: 1, tasks: [sh('lint', 'exit 1', { failurePolicy: 'warn' }), sh('other', 'true')] }, executor);
    expect(warned.verdict).toBe('warn');
    expect(byId(warned.tasks).other!.status).toBe('pass');
  });

  it('runs independent tasks in parallel up to the limit', async () => {
    const tasks = ['a', 'b', 'c', 'd'].map((id) => sh(id, 'sleep 0.6'));
    const t0 = Date.now();
    const r = await runPlan({ parallel: 2, tasks }, executor);
    const wall = Date.now() - t0;
    expect(r.verdict).toBe('pass');
    // Two at a time: overlapping starts in pairs, never all four at once.
    const starts = r.tasks.map((t) => t.startedAt!).sort();
    expect(starts[1]! - starts[0]!).toBeLessThan(400);
    expect(starts[2]! - starts[0]!).toBeGreaterThanOrEqual(500);
    expect(wall).toBeGreaterThanOrEqual(1100);
  });

  it('never runs two tasks sharing a lock at once, without making either wait for the other to pass', async () => {
    // a and b share the package's home: b must not start while a is in it, and still runs when a fails.
    const r = await runPlan({ parallel: 3, tasks: [
      sh('a', 'touch {home}/busy; sleep 0.6; rm {home}/busy; exit 1', { locks: ['home'] }),
      sh('b', 'test ! -e {home}/busy', { locks: ['home', 'other'] }),
      sh('c', 'sleep 0.3'),
    ] }, executor);
    const t = byId(r.tasks);
    expect(t.a!.status).toBe('fail');
    expect(t.b!.status).toBe('pass');
    expect(t.b!.startedAt!).toBeGreaterThanOrEqual(t.a!.startedAt! + t.a!.durationMs! - 20); // two clocks: ms slack
    // An unlocked task is not held back by the lock.
    expect(t.c!.startedAt! - t.a!.startedAt!).toBeLessThan(400);
  });

  it('runs the tasks sharing a lock in one slot (one uid), waiting for it rather than taking another', async () => {
    const slots: Record<string, number> = {};
    const recording = { execute: (task: TaskSpec, slot: number, ev: object) => ((slots[task.id] = slot), executor.execute(task, slot, ev)) };
    // a takes slot 0 and the lock; y takes slot 0 once a is done; when c frees slot 1, b is ready
    // but waits for slot 0, where a ran.
    const r = await runPlan({ parallel: 2, tasks: [
      sh('a', 'sleep 0.2', { locks: ['home'] }),
      sh('c', 'sleep 0.5', { produces: ['d'] }),
      sh('b', 'true', { locks: ['home'], needs: ['d'] }),
      sh('y', 'sleep 0.9'),
    ] }, recording);
    const t = byId(r.tasks);
    expect(r.verdict).toBe('pass');
    expect(slots).toEqual({ a: 0, c: 1, y: 0, b: 0 });
    expect(t.b!.startedAt!).toBeGreaterThanOrEqual(t.y!.startedAt! + t.y!.durationMs! - 20); // two clocks: ms slack
  });

  it('reports limits as such: wall clock, no output, output size', async () => {
    const r = await runPlan({ parallel: 3, tasks: [
      sh('slow', 'sleep 30', { limits: { ...limits, wallSeconds: 1 } }),
      sh('quiet', 'echo start; sleep 30', { limits: { ...limits, noOutputSeconds: 1 } }),
      sh('chatty', 'yes pyti', { limits: { ...limits, outputBytes: 100000 } }),
    ] }, executor);
    const t = byId(r.tasks);
    expect(t.slow).toMatchObject({ status: 'timeout', limit: 'wall-clock' });
    expect(t.quiet).toMatchObject({ status: 'timeout', limit: 'no-output' });
    expect(t.chatty).toMatchObject({ status: 'limit', limit: 'output-size' });
    expect(t.slow!.durationMs!).toBeLessThan(5000);
  });

  it('ends a task whose output first lands exactly on the limit at its next byte, as output-size', async () => {
    const r = await runPlan({ parallel: 1, tasks: [
      sh('exact', 'head -c 4096 /dev/zero; sleep 0.5; yes pyti', { limits: { ...limits, outputBytes: 4096, wallSeconds: 20 } }),
    ] }, executor);
    expect(r.tasks[0]).toMatchObject({ status: 'limit', limit: 'output-size' });
    expect(r.tasks[0]!.durationMs!).toBeLessThan(10000);
  });

  it('reports memory exhaustion as oom and measures peak memory', async () => {
    const r = await runPlan({ parallel: 1, tasks: [
      sh('hog', 'python3 -c "import time; b = bytearray(400 * 2**20); time.sleep(5)"', { limits: { ...limits, memoryBytes: 200 * 2 ** 20 } }),
    ] }, executor);
    expect(r.tasks[0]).toMatchObject({ status: 'oom', limit: 'memory' });
  });

  it('reports a task that fails because its forks were refused as the process limit', async () => {
    // A shell fork bomb fails within milliseconds, long before a /proc sample can count it; the
    // shell's own message is the evidence. (Simulated: unit tests have no per-uid process limit.)
    const r = await runPlan({ parallel: 1, tasks: [sh('bomb', 'echo "sh: 1: Cannot fork" >&2; exit 2')] }, executor);
    expect(r.tasks[0]).toMatchObject({ status: 'limit', limit: 'processes' });
  });

  it('measures peak memory and CPU of a passing task', async () => {
    const r = await runPlan({ parallel: 1, tasks: [
      sh('work', 'python3 -c "b = bytearray(100 * 2**20); import time; t = time.time()\nwhile time.time() - t < 0.5: pass"'),
    ] }, executor);
    expect(r.tasks[0]!.status).toBe('pass');
    expect(r.tasks[0]!.peakMemoryBytes!).toBeGreaterThan(90 * 2 ** 20);
    expect(r.tasks[0]!.cpuMs!).toBeGreaterThan(200);
  });

  it('kills what a task leaves running in the background', async () => {
    const r = await runPlan({ parallel: 1, tasks: [sh('daemon', '(sleep 60 &) ; echo started')] }, executor);
    expect(r.tasks[0]!.status).toBe('pass');
    expect(r.tasks[0]!.durationMs!).toBeLessThan(5000);
  });
});
