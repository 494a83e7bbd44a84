// An infrastructure result (error:*) is not the package's verdict: through the command API on a real
// master, such a report sends the job to another slave, up to --max-infra-retries times, each attempt
// recorded with its slave; only then is the infrastructure result stored.
import { startKitMaster, type KitMaster } from '../testing/notify-kit.js';
import { tinyReport } from '../testing/tiny-dists.js';

const complete = (k: KitMaster, slave: string, leaseId: string, report: unknown) =>
  k.rpc(slave, 'jobs.complete', { leaseId, outcome: { kind: 'report', report, artifacts: [] } });
const lease = async (k: KitMaster, slave: string) => (await k.rpc(slave, 'jobs.lease', { max: 1, waitMs: 0 })).result.jobs as { jobId: string; leaseId: string; attempt: number }[];

describe('infrastructure results are retried on another slave', () => {
  let k: KitMaster;
  afterEach(async () => k?.close());

  it('moves the job to the other slave, and stores the other slave\'s real result', async () => {
    k = await startKitMaster({}, { notifications: { everyMs: 0 } });
    await k.register('s2');
    const first = await k.audit('flaky', '1.0', tinyReport('flaky', '1.0', 'error', 'error:boot-timeout'), 's1');
    expect(first.complete.result).toEqual({ stored: true });
    const queued = await k.detail(first.id);
    expect(queued).toMatchObject({ state: 'queued', verdict: null, attempts: 1 });
    expect(queued.attemptLog).toEqual([expect.objectContaining({
      attempt: 1, slave: 's1', state: 'retried', reason: 'PYTI_INFRA_RESULT: error:boot-timeout on slave s1; retried on another slave (1 of 2)',
    })]);
    expect(queued.events.at(-1)).toMatchObject({ kind: 'log', text: expect.stringContaining('attempt 1: PYTI_INFRA_RESULT: error:boot-timeout on slave s1') });
    expect((await k.api('GET', `/api/v1/audits/${first.id}/report.json`)).status).not.toBe(200);
    // s1 failed it: it gets nothing while s2 is there; s2 gets the job and its report is the audit's.
    expect(await lease(k, 's1')).toEqual([]);
    const [again] = await lease(k, 's2');
    expect(again).toMatchObject({ jobId: first.id, attempt: 2 });
    expect((await complete(k, 's2', again!.leaseId, tinyReport('flaky', '1.0', 'clean', 'pass'))).result).toEqual({ stored: true });
    const done = await k.detail(first.id);
    expect(done).toMatchObject({ state: 'done', verdict: 'clean', result: 'pass', slave: 's2', attempts: 2 });
    expect(done.attemptLog.map((a) => [a.slave, a.state])).toEqual([['s1', 'retried'], ['s2', 'completed']]);
    expect((await k.api('GET', `/audits/${first.id}`)).text).toContain('PYTI_INFRA_RESULT: error:boot-timeout on slave s1');
  });

  it('stores the infrastructure result once the retries are used up, with every attempt and slave recorded', async () => {
    k = await startKitMaster({ maxAttempts: 5, maxInfraRetries: 2 }, { notifications: { everyMs: 0 } });
    await k.register('s2');
    const { id } = await k.audit('broken-host', '1.0', tinyReport('broken-host', '1.0', 'error', 'error:sandbox'), 's1');
    const [second] = await lease(k, 's2');
    expect((await complete(k, 's2', second!.leaseId, tinyReport('broken-host', '1.0', 'error', 'error:guest-unresponsive'))).result).toEqual({ stored: true });
    expect(await k.detail(id)).toMatchObject({ state: 'queued', attempts: 2 });
    // Both slaves failed it: with no other one left, it goes back to s1 rather than waiting forever.
    const [third] = await lease(k, 's1');
    expect(third).toMatchObject({ jobId: id, attempt: 3 });
    expect((await complete(k, 's1', third!.leaseId, tinyReport('broken-host', '1.0', 'error', 'error:job-timeout'))).result).toEqual({ stored: true });
    const d = await k.detail(id);
    expect(d).toMatchObject({ state: 'done', verdict: 'error', result: 'error:job-timeout', attempts: 3 });
    expect(d.attemptLog.map((a) => [a.slave, a.state, a.reason])).toEqual([
      ['s1', 'retried', 'PYTI_INFRA_RESULT: error:sandbox on slave s1; retried on another slave (1 of 2)'],
      ['s2', 'retried', 'PYTI_INFRA_RESULT: error:guest-unresponsive on slave s2; retried on another slave (2 of 2)'],
      ['s1', 'completed', 'completed: error:job-timeout'],
    ]);
    expect((await k.api('GET', `/api/v1/audits/${id}/report.json`)).body).toMatchObject({ result: 'error:job-timeout' });
  });

  it('stores it at once with --max-infra-retries 0, and never retries a package\'s own failure', async () => {
    k = await startKitMaster({ maxInfraRetries: 0 }, { notifications: { everyMs: 0 } });
    await k.register('s2');
    const infra = await k.audit('infra', '1.0', tinyReport('infra', '1.0', 'error', 'error:boot-timeout'), 's1');
    expect(await k.detail(infra.id)).toMatchObject({ state: 'done', result: 'error:boot-timeout', attempts: 1 });
    await k.close();
    k = await startKitMaster({}, { notifications: { everyMs: 0 } });
    const failed = await k.audit('failing', '1.0', tinyReport('failing', '1.0', 'failed', 'build-fail'), 's1');
    expect(await k.detail(failed.id)).toMatchObject({ state: 'done', result: 'build-fail', attempts: 1 });
  });
});
