import type { RegisterParams } from '@pyti/common';
import { type Db } from '../db/database.js';
import { testStores } from '../testing/store-kit.js';
import { ManualClock } from './clock.js';
import { LeaseLostError, NotRegisteredError } from './errors.js';
import { JobQueue, MAX_EVENTS_PER_JOB, type ReportOutcome } from './job-queue.js';

const LEASE = 10_000;

function reg(backends = ['bwrap']): RegisterParams {
  return { protocolVersion: 1, version: '0.1.0', host: 'h', capabilities: { backends, python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 2 } };
}

function report(result = 'pass', verdict = 'clean'): ReportOutcome {
  return { kind: 'report', reportJson: JSON.stringify({ verdict, result }), verdict, result, findings: 0, artifacts: [] };
}

const stores = testStores();

describe.each(stores.kinds)('JobQueue on %s', (kind) => {
  let db: Db;
  let clock: ManualClock;
  let q: JobQueue;
  const submit = (project: string, priority = 0, backend?: string) =>
    q.submit({ source: { kind: 'index', project, version: '1.0' }, priority, ...(backend ? { backend } : {}) });

  beforeEach(async () => {
    db = await stores.open(kind);
    clock = new ManualClock();
    q = new JobQueue(db, { leaseMs: LEASE, maxWaitMs: 2000, maxAttempts: 2, defaultBackend: 'bwrap', clock, sweepIntervalMs: 0 });
    q.register('s1', reg());
    q.register('s2', reg(['bwrap', 'qemu']));
  });
  afterEach(() => {
    q.close();
    db.close();
  });

  it('leases higher priorities first, then in submission order, only for backends the slave has', () => {
    const low = submit('low', -5);
    const a = submit('a');
    const vm = submit('vm', 50, 'qemu');
    const b = submit('b');
    const high = submit('high', 10);
    expect(q.leaseNow('s1', 10).map((j) => j.jobId)).toEqual([high.id, a.id, b.id, low.id]);
    const [j] = q.leaseNow('s2', 10);
    expect(j).toMatchObject({ jobId: vm.id, backend: 'qemu', attempt: 1, source: { kind: 'index', project: 'vm', version: '1.0' } });
    expect(j!.leaseExpiresAt).toBe(clock.now() + LEASE);
    expect(q.summary(a.id)).toMatchObject({ state: 'running', slave: 's1', attempts: 1 });
  });

  it('refuses slaves that have not registered', () => {
    expect(() => q.leaseNow('ghost', 1)).toThrow(NotRegisteredError);
  });

  it('extends leases by heartbeat and reports foreign or unknown leases as lost', () => {
    submit('p');
    const [j] = q.leaseNow('s1', 1);
    clock.advance(LEASE - 1);
    const hb = q.heartbeat('s1', [j!.leaseId, 'unknown-lease'], false);
    expect(hb.extended).toEqual([{ leaseId: j!.leaseId, leaseExpiresAt: clock.now() + LEASE }]);
    expect(hb.lost).toEqual(['unknown-lease']);
    expect(q.heartbeat('s2', [j!.leaseId], false).lost).toEqual([j!.leaseId]);
    clock.advance(LEASE - 1);
    expect(q.sweep()).toBe(0);
    expect(() => q.progress('s2', j!.leaseId, [])).toThrow(LeaseLostError);
    expect(() => q.complete('s2', j!.leaseId, report())).toThrow(LeaseLostError);
  });

  it('puts the job of an expired lease back, then ends it with every attempt\'s reason', () => {
    const job = submit('p');
    const [a1] = q.leaseNow('s1', 1);
    clock.advance(LEASE + 1);
    const [a2] = q.leaseNow('s2', 1);
    expect(a2).toMatchObject({ jobId: job.id, attempt: 2 });
    expect(q.heartbeat('s1', [a1!.leaseId], false).lost).toEqual([a1!.leaseId]);
    clock.advance(LEASE + 1);
    q.sweep();
    const s = q.summary(job.id)!;
    expect(s).toMatchObject({ state: 'error', verdict: 'error', attempts: 2 });
    expect(s.error!.code).toBe('PYTI_ATTEMPTS_EXHAUSTED');
    expect(s.error!.attempts).toEqual([
      { attempt: 1, reason: 'lease expired: slave s1 stopped answering' },
      { attempt: 2, reason: 'lease expired: slave s2 stopped answering' },
    ]);
    expect(s.error!.message).toContain('attempt 2: lease expired: slave s2');
  });

  it('stores a late completion from an expired lease once, voids the other lease and tells its slave', () => {
    const job = submit('p');
    const [a1] = q.leaseNow('s1', 1);
    clock.advance(LEASE + 1);
    const [a2] = q.leaseNow('s2', 1);
    expect(q.complete('s1', a1!.leaseId, report('test-fail', 'failed'))).toEqual({ stored: true });
    expect(q.summary(job.id)).toMatchObject({ state: 'done', verdict: 'failed', result: 'test-fail', slave: 's1' });
    expect(q.reportJson(job.id)).toBe(JSON.stringify({ verdict: 'failed', result: 'test-fail' }));
    const hb = q.heartbeat('s2', [a2!.leaseId], false);
    expect(hb.lost).toEqual([a2!.leaseId]);
    expect(hb.commands).toEqual([{ kind: 'cancel', jobId: job.id, leaseId: a2!.leaseId }]);
    expect(q.heartbeat('s2', [], false).commands).toEqual([]);
    expect(q.progress('s2', a2!.leaseId, [{ at: 1, kind: 'log', text: 'x' }])).toEqual({ valid: false });
    // Every later completion is acknowledged and changes nothing.
    expect(q.complete('s2', a2!.leaseId, report('pass', 'clean'))).toEqual({ stored: false });
    expect(q.complete('s1', a1!.leaseId, report('pass', 'clean'))).toEqual({ stored: false });
    expect(q.summary(job.id)).toMatchObject({ state: 'done', verdict: 'failed', result: 'test-fail' });
    expect(db.prepare('SELECT COUNT(*) AS n FROM reports').get()).toEqual({ n: 1 });
  });

  it('takes a requeued job out of the queue when its expired lease completes', () => {
    const job = submit('p');
    const [a1] = q.leaseNow('s1', 1);
    clock.advance(LEASE + 1);
    q.sweep();
    expect(q.summary(job.id)!.state).toBe('queued');
    expect(q.complete('s1', a1!.leaseId, report())).toEqual({ stored: true });
    expect(q.leaseNow('s2', 1)).toEqual([]);
  });

  it('requeues on retryable errors until attempts run out; a final error ends the job at once', () => {
    const job = submit('p');
    const [a1] = q.leaseNow('s1', 1);
    expect(q.complete('s1', a1!.leaseId, { kind: 'error', code: 'PYTI_BACKEND_UNAVAILABLE', message: 'no bwrap', retry: true })).toEqual({ stored: true });
    expect(q.summary(job.id)!.state).toBe('queued');
    // A replay of the same infra error changes nothing.
    expect(q.complete('s1', a1!.leaseId, { kind: 'error', code: 'PYTI_BACKEND_UNAVAILABLE', message: 'no bwrap', retry: true })).toEqual({ stored: false });
    const [a2] = q.leaseNow('s1', 1);
    q.complete('s1', a2!.leaseId, { kind: 'error', code: 'PYTI_MASTER_UNREACHABLE', message: 'boom', retry: true });
    const s = q.summary(job.id)!;
    expect(s.state).toBe('error');
    expect(s.error!.attempts).toEqual([{ attempt: 1, reason: 'PYTI_BACKEND_UNAVAILABLE: no bwrap' }, { attempt: 2, reason: 'PYTI_MASTER_UNREACHABLE: boom' }]);

    const other = submit('q');
    const [b1] = q.leaseNow('s1', 1);
    q.complete('s1', b1!.leaseId, { kind: 'error', code: 'PYTI_INDEX_NOT_FOUND', message: 'no such project', retry: false });
    expect(q.summary(other.id)).toMatchObject({ state: 'error', attempts: 1, error: { code: 'PYTI_INDEX_NOT_FOUND', message: 'no such project' } });
  });

  it('cancels queued and running jobs; the running one\'s slave is told and its lease is void', () => {
    const queued = submit('a');
    expect(q.cancel(queued.id).state).toBe('cancelled');
    const running = submit('b');
    const [l] = q.leaseNow('s1', 1);
    expect(q.cancel(running.id).state).toBe('cancelled');
    expect(q.progress('s1', l!.leaseId, [])).toEqual({ valid: false });
    const hb = q.heartbeat('s1', [l!.leaseId], false);
    expect(hb).toEqual({ extended: [], lost: [l!.leaseId], commands: [{ kind: 'cancel', jobId: running.id, leaseId: l!.leaseId }] });
    expect(q.complete('s1', l!.leaseId, report())).toEqual({ stored: false });
    expect(q.summary(running.id)!.state).toBe('cancelled');
    expect(q.leaseNow('s1', 5)).toEqual([]);
    expect(q.cancel(running.id).state).toBe('cancelled');
  });

  it('drains a slave: no new leases, and its heartbeats carry drain', () => {
    submit('a');
    q.drain('s1');
    expect(q.leaseNow('s1', 1)).toEqual([]);
    expect(q.heartbeat('s1', [], true).commands).toEqual([{ kind: 'drain' }]);
    expect(q.slaves().find((s) => s.name === 's1')).toMatchObject({ draining: true, drainRequested: true, activeLeases: 0 });
    expect(q.leaseNow('s2', 1)).toHaveLength(1);
  });

  it('wakes a long-poll on submit', async () => {
    const t0 = Date.now();
    const leased = q.lease('s1', 1, 2000);
    await new Promise((r) => setTimeout(r, 30));
    expect(q.waiting).toBe(1);
    const job = submit('late');
    const jobs = await leased;
    expect(jobs.map((j) => j.jobId)).toEqual([job.id]);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('answers a long-poll with nothing after its wait, and at once on close', async () => {
    expect(await q.lease('s1', 1, 50)).toEqual([]);
    const leased = q.lease('s1', 1, 2000);
    q.close();
    expect(await leased).toEqual([]);
  });

  it('records progress and keeps the latest events per job', () => {
    const job = submit('p');
    const [l] = q.leaseNow('s1', 1);
    q.progress('s1', l!.leaseId, [{ at: 1, kind: 'phase', phase: 'auditing' }, { at: 2, kind: 'task-started', task: 'build' },
      { at: 3, kind: 'task-finished', task: 'build', status: 'ok', durationMs: 5 }]);
    expect(q.summary(job.id)!.progress).toEqual({ phase: 'auditing', task: 'build', tasksDone: 1, log: null });
    for (let i = 0; i < 3; i++) {
      q.progress('s1', l!.leaseId, Array.from({ length: 100 }, (_, k) => ({ at: 10 + k, kind: 'log' as const, text: `line ${i}-${k}` })));
    }
    const d = q.detail(job.id)!;
    expect(d.events).toHaveLength(MAX_EVENTS_PER_JOB);
    expect(d.events.at(-1)!.text).toBe('line 2-99');
    expect(d.progress!.log).toBe('line 2-99');
  });

  it('lists newest first, by state, with paging', () => {
    const ids = ['a', 'b', 'c', 'd'].map((p) => submit(p).id);
    q.cancel(ids[1]!);
    expect(q.list().map((a) => a.id)).toEqual([...ids].reverse());
    expect(q.list({ state: 'cancelled' }).map((a) => a.id)).toEqual([ids[1]]);
    expect(q.list({ limit: 2, after: ids[2]! }).map((a) => a.id)).toEqual([ids[1], ids[0]]);
    expect(q.counts()).toEqual({ queued: 3, running: 0, done: 0, error: 0, cancelled: 1 });
  });
});
