/**
 * Conformance, hostile package code: whatever it does inside the guest, the host and the agent keep
 * working, the session is reported sensibly, and nothing the package says is taken for the agent's.
 */
import type { TaskResult } from '@pyti/vm-agent';
import { TIGHT, VICTIM_EXIT } from './conformance-plans.js';
import type { ConformanceSessions } from './conformance-sessions.js';
import { guestReport } from './guest-report.js';

interface Attempt {
  ok: boolean;
  error?: string;
}

export function hostileChecks(s: ConformanceSessions): void {
  const timeout = s.budgetMs('protocol', 'hostile');
  const session = async () => {
    const h = await s.hostile();
    expect(h.outcome.infraError).toBeUndefined();
    const task = (id: string): TaskResult => h.outcome.run!.tasks.find((t) => t.id === id)!;
    const report = <T>(id: string): T => guestReport<T>(h.outcome.output.get(id), id);
    return { ...h, task, report };
  };

  it('the agent survives all of it: the session ends normally, the canary after the worst runs, nothing is left', async () => {
    const h = await session();
    expect(h.outcome.run!.verdict).toBe('fail');
    expect(h.task('canary')).toMatchObject({ status: 'pass' });
    expect(h.outcome.output.get('canary')).toContain('canary 42');
    expect(h.seen.length).toBeGreaterThan(0);
    expect(h.leftovers).toEqual([]);
    expect(h.exited).toBe(true);
  }, timeout);

  it('a fork bomb is bounded by the process limit and reported as limit (processes)', async () => {
    const h = await session();
    const r = h.task('hostile-fork-bomb');
    expect(r).toMatchObject({ status: 'limit', limit: 'processes' });
    expect(r.peakProcesses).toBeLessThanOrEqual(TIGHT.processes + 1);
  }, timeout);

  it('filling /tmp, /work and the home directory stops at a full disk, and the agent goes on', async () => {
    const h = await session();
    expect(h.task('hostile-fill').status).toBe('pass');
    const { fills } = h.report<{ fills: { dir: string; full: boolean; error?: string }[] }>('hostile-fill');
    // The home (/work/home, for the slot users' /home/<name>) is on /work's mount, as on a laptop.
    expect(fills.map((f) => [f.dir.split('/')[1], f.full])).toEqual([['tmp', true], ['work', true], ['work', true]]);
    expect(fills[2]!.dir).toBe('/work/home');
    expect(h.task('canary').status).toBe('pass');
  }, timeout);

  it('flooding stdout with one endless line is cut at outputBytes: limit (output-size), the host keeps no more', async () => {
    const h = await session();
    expect(h.task('hostile-flood')).toMatchObject({ status: 'limit', limit: 'output-size' });
    expect(Buffer.byteLength(h.outcome.output.get('hostile-flood') ?? '')).toBeLessThanOrEqual(TIGHT.outputBytes);
  }, timeout);

  it('kill -9 -1 and signals to the agent and pid 1 are refused', async () => {
    const h = await session();
    const { attempts } = h.report<{ agents: number[]; attempts: (Attempt & { target: number; signal: string })[] }>('hostile-kill');
    const aimed = attempts.filter((a) => a.target !== -1);
    expect(aimed.some((a) => a.target === 1)).toBe(true);
    expect(aimed.filter((a) => a.ok)).toEqual([]);
    expect(h.task('hostile-kill').status).toBe('pass');
  }, timeout);

  it('the agent\'s code and the task helpers cannot be written, and the host\'s copies are unchanged', async () => {
    const h = await session();
    const { attempts } = h.report<{ attempts: (Attempt & { op: string; path: string })[] }>('hostile-agent-files');
    expect(attempts.some((a) => a.op === 'open-write' && a.path.endsWith('/agent.mjs'))).toBe(true);
    expect(attempts.filter((a) => a.ok)).toEqual([]);
    expect(h.hostFiles.after).toBe(h.hostFiles.before);
  }, timeout);

  it('forged JSON-RPC cannot reach the agent\'s channel, and the host takes none of it for the agent\'s', async () => {
    const h = await session();
    const r = h.report<{ attempts: (Attempt & { path: string })[]; inherited: (Attempt & { fd: number })[] }>('hostile-forge');
    expect(r.attempts.length).toBeGreaterThan(0);
    expect(r.attempts.filter((a) => a.ok)).toEqual([]);
    expect(r.inherited.filter((a) => a.ok)).toEqual([]);
    // What it printed reached the host as the task's text, never as messages.
    expect(h.outcome.output.get('hostile-forge')).toContain('"method": "task/finished"');
    expect(h.task('victim')).toMatchObject({ status: 'fail', exitCode: VICTIM_EXIT });
    expect(h.task('hostile-forge').status).toBe('pass');
  }, timeout);
}
