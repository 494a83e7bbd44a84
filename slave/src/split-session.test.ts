/**
 * The split runner with real sandboxes: bubblewrap on both sides (a bwrap instance stands in for the
 * VM, since the runner only needs a Backend), a first stage whose produced data the later stages are
 * given, an abort that ends both, and a first stage that fails.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Plan, TaskSpec } from '@pyti/vm-agent';
import { splitPlanForVm, tasksDir } from '@pyti/tasks';
import { ensureAgentBundle, requireRootfs } from '@pyti/images';
import { BwrapBackend } from './backends/bwrap.js';
import type { SandboxInputs } from './backends/backend.js';
import { DEFAULT_SESSION_LIMITS } from './agent-session.js';
import { mergeOutcomes, runSplitSessions } from './split-session.js';

const limits = { wallSeconds: 60, noOutputSeconds: 60, cpuSeconds: 60, memoryBytes: 1e9, processes: 64, outputBytes: 1e6 };
const task = (id: string, over: Partial<TaskSpec>): TaskSpec => ({ id, title: id, dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', limits, command: ['true'], ...over });
const plan = (guestCommand: string, inspectCommand = 'mkdir -p {data:source}/pkg && echo hello > {data:source}/pkg/m.py && echo "{}" > {data:meta}/i.json'): Plan => ({
  parallel: 2,
  tasks: [
    task('inspect', { produces: ['source', 'meta'], failurePolicy: 'halt', command: ['sh', '-c', inspectCommand] }),
    task('build', { needs: ['source', 'meta'], command: ['sh', '-c', guestCommand] }),
    task('lint', { needs: ['source'], failurePolicy: 'warn', command: ['sh', '-c', 'cat {data:source}/pkg/m.py > {raw}/lint.txt'] }),
  ],
});

describe('runSplitSessions', () => {
  let dir: string;
  let inputs: SandboxInputs;
  const bwrap = new BwrapBackend();
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-split-'));
    for (const d of ['input', 'wheelhouse', 'job']) mkdirSync(join(dir, d));
    inputs = { inputDir: join(dir, 'input'), wheelhouse: join(dir, 'wheelhouse'), jobDir: join(dir, 'job'), agentDir: await ensureAgentBundle(), tasksDir: tasksDir(), rootfs: requireRootfs().path };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the first stage\'s data to both later stages, and merges their results in plan order', async () => {
    const p = plan('cat {data:source}/pkg/m.py {data:meta}/i.json > {raw}/seen.txt');
    const split = splitPlanForVm(p, new Set(['inspect', 'lint']));
    const events: string[] = [];
    let guestStarted = 0;
    const o = await runSplitSessions({
      plan: p, split, guest: bwrap, host: bwrap, inputs, limits: DEFAULT_SESSION_LIMITS,
      events: { taskStarted: (id) => events.push(`started:${id}`), taskFinished: (r) => events.push(`finished:${r.id}`) }, guestStarted: () => guestStarted++,
    });
    expect(o.infraError).toBeUndefined();
    expect(o.run!.tasks.map((t) => [t.id, t.status])).toEqual([['inspect', 'pass'], ['build', 'pass'], ['lint', 'pass']]);
    expect(o.run!.verdict).toBe('pass');
    expect(o.raw.get('build')!.get('seen.txt')!.toString()).toBe('hello\n{}\n');
    expect(o.raw.get('lint')!.get('lint.txt')!.toString()).toBe('hello\n');
    expect(guestStarted).toBe(1);
    expect(o.hello).toBeDefined();
    for (const id of ['inspect', 'build', 'lint']) expect(events).toEqual(expect.arrayContaining([`started:${id}`, `finished:${id}`]));
    expect(events.indexOf('finished:inspect')).toBeLessThan(events.indexOf('started:build'));
  });

  it('an inspect that fails skips every later task and starts no guest', async () => {
    const p = plan('true', 'exit 2');
    let guestStarted = 0;
    const o = await runSplitSessions({ plan: p, split: splitPlanForVm(p, new Set(['inspect', 'lint'])), guest: bwrap, host: bwrap, inputs, limits: DEFAULT_SESSION_LIMITS, events: {}, guestStarted: () => guestStarted++ });
    expect(guestStarted).toBe(0);
    expect(o.infraError).toBeUndefined();
    expect(o.run).toMatchObject({ verdict: 'fail', haltedBy: 'inspect' });
    expect(o.run!.tasks.map((t) => [t.id, t.status, t.reason ?? ''])).toEqual([['inspect', 'fail', 'exit code 2'], ['build', 'skipped', 'run halted by inspect'], ['lint', 'skipped', 'run halted by inspect']]);
  });

  it('an abort ends both later sandboxes and rejects', async () => {
    const p = plan('sleep 50');
    const ac = new AbortController();
    const t0 = Date.now();
    const run = runSplitSessions({
      plan: p, split: splitPlanForVm(p, new Set(['inspect', 'lint'])), guest: bwrap, host: bwrap, inputs, limits: DEFAULT_SESSION_LIMITS, signal: ac.signal,
      events: { taskStarted: (id) => { if (id === 'build') setTimeout(() => ac.abort(new Error('stop')), 300); } },
    });
    await expect(run).rejects.toThrow('stop');
    expect(Date.now() - t0).toBeLessThan(20000);
  });
});

describe('mergeOutcomes', () => {
  it('keeps plan order, every stage\'s raw data, the first infrastructure failure, and the guest\'s hello', () => {
    const p = plan('true');
    const r = (id: string, status: 'pass' | 'fail') => ({ id, status, rawFiles: [] });
    const hello = { python: '3.11' } as never;
    const m = mergeOutcomes(p, [
      { raw: new Map([['build', new Map([['b', Buffer.from('x')]])]]), output: new Map(), console: 'guest console', hello, bootMs: 5, run: { verdict: 'fail', tasks: [r('build', 'fail')], durationMs: 1 } },
      { raw: new Map([['lint', new Map([['l', Buffer.from('y')]])]]), output: new Map(), console: '', run: { verdict: 'pass', tasks: [r('lint', 'pass')], durationMs: 1 } },
      { raw: new Map(), output: new Map(), console: 'host console', run: { verdict: 'pass', tasks: [r('inspect', 'pass')], durationMs: 1 } },
    ], undefined, 9);
    expect(m.run!.tasks.map((t) => t.id)).toEqual(['inspect', 'build', 'lint']);
    expect(m.run).toMatchObject({ verdict: 'fail', durationMs: 9 });
    expect([...m.raw.keys()].sort()).toEqual(['build', 'lint']);
    expect(m).toMatchObject({ hello, bootMs: 5 });
    expect(m.console).toBe('guest console\n--- host sandbox (static tasks) ---\nhost console');
    const infra = { kind: 'error:sandbox' as const, message: 'x' };
    expect(mergeOutcomes(p, [{ raw: new Map(), output: new Map(), console: '', infraError: { kind: 'error:boot-timeout', message: 'later' } }], infra, 1).infraError).toBe(infra);
  });
});
