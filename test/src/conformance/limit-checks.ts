/** Conformance, limits: each limit a task hits is reported as itself, not as a plain failure. */
import type { TaskResult } from '@pyti/vm-agent';
import { TIGHT } from './conformance-plans.js';
import type { ConformanceSessions } from './conformance-sessions.js';

export function limitChecks(s: ConformanceSessions): void {
  const timeout = s.budgetMs('protocol', 'hostile');
  const sf = s.scale.slowFactor;
  const result = async (id: string): Promise<TaskResult> => {
    const { outcome } = await s.hostile();
    expect(outcome.infraError).toBeUndefined();
    return outcome.run!.tasks.find((t) => t.id === id)!;
  };

  it('in a VM guest, memory and processes are enforced by the kernel (a cgroup per task), as the console says', async () => {
    const { outcome } = await s.hostile();
    const line = /pyti-agent: task cgroups [^\n]*/.exec(outcome.console)?.[0];
    if (s.backend.capabilities.isolation === 'vm') expect(line).toMatch(/task cgroups on; tasks may hold \d+ MiB/);
    else expect(line).toBeUndefined(); // sandboxes sample only, and say nothing about cgroups
  }, timeout);

  it('wall clock: timeout (wall-clock), ended soon after the limit', async () => {
    const r = await result('limit-wall');
    expect(r).toMatchObject({ status: 'timeout', limit: 'wall-clock', reason: expect.stringContaining('wall-clock') });
    expect(r.durationMs).toBeGreaterThanOrEqual(TIGHT.wallSeconds * sf * 1000 * 0.9);
    expect(r.durationMs).toBeLessThan((TIGHT.wallSeconds + 10) * sf * 1000);
  }, timeout);

  it('no output: timeout, with the kind (no-output) in the reason', async () => {
    const r = await result('limit-quiet');
    expect(r).toMatchObject({ status: 'timeout', limit: 'no-output', reason: expect.stringContaining('no-output') });
    expect(r.durationMs).toBeLessThan((TIGHT.noOutputSeconds + 10) * sf * 1000);
  }, timeout);

  it('CPU time: timeout (cpu)', async () => {
    expect(await result('limit-cpu')).toMatchObject({ status: 'timeout', limit: 'cpu', reason: expect.stringContaining('cpu') });
  }, timeout);

  it('memory: oom (memory), stopped well before it took all it asked for', async () => {
    const r = await result('limit-memory');
    expect(r).toMatchObject({ status: 'oom', limit: 'memory' });
    // Sampling sees it past the limit; a kernel-enforced limit (a VM guest's cgroup) stops it at the limit.
    expect(r.peakMemoryBytes).toBeGreaterThanOrEqual(TIGHT.memoryBytes * 0.9);
    expect(r.outputTail).not.toContain('without being stopped');
  }, timeout);

  it('process count: forking until refused, for ever, is limit (processes), and never exceeds the count', async () => {
    const r = await result('limit-processes');
    expect(r).toMatchObject({ status: 'limit', limit: 'processes' });
    expect(r.peakProcesses).toBeLessThanOrEqual(TIGHT.processes + 1);
  }, timeout);

  it('output size: limit (output-size), and the host got no more than the limit', async () => {
    const r = await result('limit-output');
    expect(r).toMatchObject({ status: 'limit', limit: 'output-size' });
    expect(r.outputBytes).toBeGreaterThan(TIGHT.outputBytes);
    const { outcome } = await s.hostile();
    expect(Buffer.byteLength(outcome.output.get('limit-output') ?? '')).toBeLessThanOrEqual(TIGHT.outputBytes);
  }, timeout);
}
