// The master decides: through the command API on a real master, a report whose result its own tasks
// contradict is stored with the master's result; a report that contradicts itself beyond repair is
// rejected with PYTI_REPORT_REJECTED and evidence, logged on the job, and the job goes to another
// slave (not back to the one that sent it while another is there), a bounded number of times.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { startKitMaster, type KitMaster } from '../testing/notify-kit.js';
import { tinyReport } from '../testing/tiny-dists.js';

const task = (id: string, status: string) => ({ id, status, title: id, failurePolicy: 'continue', rawFiles: [] });
const tests = (o: Record<string, unknown>) => ({ status: 'ran', total: 3, passed: 3, failed: 0, errors: 0, skipped: 0, durationSeconds: 1, cases: [], ...o });

describe('the master decides the result and refuses reports that contradict themselves', () => {
  let k: KitMaster;
  afterEach(async () => k?.close());

  it('stores the result the tasks give, not the one the slave claims, and keeps the claim', async () => {
    // Infrastructure results stored at once (no retry on another slave: see queue/infra-retry.test.ts).
    k = await startKitMaster({ maxInfraRetries: 0 }, { notifications: { everyMs: 0 } });
    const report = { ...tinyReport('liar', '1.0', 'clean', 'pass'), tasks: [task('install', 'pass'), task('import', 'pass'), task('test', 'fail')], tests: tests({ passed: 2, failed: 1 }) };
    const { id, complete } = await k.audit('liar', '1.0', report);
    expect(complete).toEqual({ jsonrpc: '2.0', id: expect.any(Number), result: { stored: true } });
    expect(await k.detail(id)).toMatchObject({ state: 'done', verdict: 'clean', result: 'test-fail' });
    const stored = (await k.api('GET', `/api/v1/audits/${id}/report.json`)).body;
    expect(stored).toMatchObject({ result: 'test-fail', masterJudgement: { resultClaimed: 'pass', reason: 'the slave said pass, but task test is fail' } });
    expect((await k.api('GET', `/audits/${id}`)).text).toContain('<p class="muted" id="master-judgement">The master decided the result from the tasks in the report: the slave said pass, but task test is fail.</p>');
    // Failing counts with a passing test task are failures too; an infrastructure result stays.
    const counts = await k.audit('counts', '1.0', { ...tinyReport('counts', '1.0', 'clean', 'pass'), tasks: [task('test', 'pass')], tests: tests({ passed: 1, failed: 1, errors: 1 }) });
    expect(await k.detail(counts.id)).toMatchObject({ result: 'test-fail' });
    const infra = await k.audit('infra', '1.0', { ...tinyReport('infra', '1.0', 'error', 'error:job-timeout'), tasks: [task('test', 'pass')] });
    expect(await k.detail(infra.id)).toMatchObject({ result: 'error:job-timeout', verdict: 'error' });
  });

  it('rejects a self-contradicting report with evidence and hands the job to another slave, not back to the one that sent it', async () => {
    k = await startKitMaster({}, { notifications: { everyMs: 0 } });
    await k.register('s2');
    const bad = { ...tinyReport('twisted', '1.0', 'clean', 'pass'), tasks: [task('test', 'pass')], tests: tests({ total: 2, passed: 3 }) };
    const { id, complete } = await k.audit('twisted', '1.0', bad, 's1');
    expect(complete.error).toMatchObject({
      code: -32000,
      message: expect.stringMatching(/^the report is rejected: the test counts do not add up .*; the job is retried on another slave$/),
      data: { code: 'PYTI_REPORT_REJECTED', requeued: true, evidence: ['passed 3 + failed 0 + errors 0 + skipped 0 + xfailed 0 + xpassed 0 = 3 > total 2'] },
    });
    const queued = await k.detail(id);
    expect(queued).toMatchObject({ state: 'queued', attempts: 1 });
    expect(queued.attemptLog[0]).toMatchObject({ slave: 's1', state: 'retried', reason: expect.stringMatching(/^PYTI_REPORT_REJECTED: the test counts do not add up — evidence: passed 3/) });
    expect(queued.events.at(-1)).toMatchObject({ kind: 'log', text: expect.stringMatching(/^attempt 1 on s1: report rejected: PYTI_REPORT_REJECTED: the test counts/) });
    // s1 asks again: s2 is there, so s1 gets nothing; s2 gets the job and its good report is stored.
    expect((await k.rpc('s1', 'jobs.lease', { max: 1, waitMs: 0 })).result).toEqual({ jobs: [] });
    const lease = (await k.rpc('s2', 'jobs.lease', { max: 1, waitMs: 0 })).result.jobs[0];
    expect(lease).toMatchObject({ jobId: id, attempt: 2 });
    const good = { ...tinyReport('twisted', '1.0', 'clean', 'pass'), tasks: [task('test', 'pass')], tests: tests({}) };
    expect((await k.rpc('s2', 'jobs.complete', { leaseId: lease.leaseId, outcome: { kind: 'report', report: good, artifacts: [] } })).result).toEqual({ stored: true });
    expect(await k.detail(id)).toMatchObject({ state: 'done', result: 'pass', slave: 's2' });
  });

  it('gives the job back to the same slave when no other is there, and ends it as a visible failure when attempts run out', async () => {
    k = await startKitMaster({ maxAttempts: 2 }, { notifications: { everyMs: 0 } });
    const unrenderable = { ...tinyReport('broken', '1.0', 'clean', 'pass'), traces: null };
    const first = await k.audit('broken', '1.0', unrenderable, 's1');
    expect(first.complete.error.data).toMatchObject({ code: 'PYTI_REPORT_REJECTED', requeued: true, evidence: ['traces = null'] });
    const lease = (await k.rpc('s1', 'jobs.lease', { max: 1, waitMs: 0 })).result.jobs[0];
    expect(lease).toMatchObject({ jobId: first.id, attempt: 2 });
    const dup = { ...tinyReport('broken', '1.0', 'clean', 'pass'), tasks: [task('test', 'pass'), task('test', 'fail')] };
    const second = await k.rpc('s1', 'jobs.complete', { leaseId: lease.leaseId, outcome: { kind: 'report', report: dup, artifacts: [] } });
    expect(second.error).toMatchObject({ message: expect.stringMatching(/task test is listed twice.*; the job has no attempt left$/), data: { code: 'PYTI_REPORT_REJECTED', requeued: false } });
    const d = await k.detail(first.id);
    expect(d).toMatchObject({ state: 'error', verdict: 'error', error: { code: 'PYTI_ATTEMPTS_EXHAUSTED' } });
    expect(d.error!.message).toMatch(/attempt 1: PYTI_REPORT_REJECTED: missing required section traces .*attempt 2: PYTI_REPORT_REJECTED: task test is listed twice/);
    // The audit page shows why.
    const page = await k.api('GET', `/audits/${first.id}`);
    expect(page.text).toContain('PYTI_ATTEMPTS_EXHAUSTED');
    expect(page.text).toContain('PYTI_REPORT_REJECTED: missing required section traces');
  });

  it('says on the audit page why a stored report is not available (reports stored before these checks)', async () => {
    k = await startKitMaster({}, { notifications: { everyMs: 0 } });
    const a = await k.audit('old', '1.0', tinyReport('old', '1.0', 'clean'));
    const b = await k.audit('old', '1.1', tinyReport('old', '1.1', 'clean'));
    const db = new Database(join(k.dir, 'master.db'));
    try {
      db.prepare('UPDATE reports SET report = ? WHERE job_seq = (SELECT seq FROM jobs WHERE id = ?)').run('{"truncated', a.id);
      db.prepare('UPDATE reports SET report = ? WHERE job_seq = (SELECT seq FROM jobs WHERE id = ?)').run('{"distribution": {"name": "<b>x</b>"}, "findings": 5}', b.id);
    } finally {
      db.close();
    }
    const pa = (await k.api('GET', `/audits/${a.id}`)).text;
    expect(pa).toMatch(/<p class="muted" id="report-unavailable">The report is not available: the stored report is not valid JSON: [^<]+\.<\/p>/);
    const pb = (await k.api('GET', `/audits/${b.id}`)).text;
    expect(pb).toMatch(/<p class="muted" id="report-unavailable">The report is not available: the stored report cannot be rendered: [^<]+\.<\/p>/);
    expect(pb).not.toContain('<b>x</b>');
  });
});
