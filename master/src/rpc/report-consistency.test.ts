import { describe, expect, it } from '@jest/globals';
import { decideResult } from './report-consistency.js';

/** The sections every report has, with `tasks` as given. */
function report(tasks: { id: string; status: string }[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { distribution: { name: 'demo', version: '1.0', filename: 'demo-1.0.tar.gz' }, tasks, traces: {}, findings: [], timings: {}, ...extra };
}

describe('the master decides the result from the tasks', () => {
  it('turns a claimed pass into the failure its tasks show', () => {
    const r = report([{ id: 'build', status: 'pass' }, { id: 'test', status: 'fail' }]);
    expect(decideResult(r, 'pass')).toMatchObject({ result: 'test-fail', repaired: { claimed: 'pass' } });
    expect(r.masterJudgement).toMatchObject({ resultClaimed: 'pass' });
  });

  it("keeps a git commit's failed sdist build as build-fail (its only task is `sdist`)", () => {
    expect(decideResult(report([{ id: 'sdist', status: 'fail' }]), 'build-fail')).toEqual({ result: 'build-fail', repaired: null });
    expect(decideResult(report([{ id: 'sdist', status: 'timeout' }]), 'pass').result).toBe('build-fail:timeout');
  });

  it('keeps a failure the slave names from more than its tasks (test requirements not obtainable)', () => {
    const r = report([{ id: 'build', status: 'pass' }, { id: 'test', status: 'pass' }]);
    expect(decideResult(r, 'test-fail:deps')).toEqual({ result: 'test-fail:deps', repaired: null });
    expect(r.masterJudgement).toBeUndefined();
  });

  it('does not judge a report without phase tasks, and keeps infrastructure results', () => {
    expect(decideResult(report([{ id: 'bait', status: 'pass' }]), 'build-fail')).toEqual({ result: 'build-fail', repaired: null });
    expect(decideResult(report([{ id: 'build', status: 'fail' }]), 'error:sandbox')).toEqual({ result: 'error:sandbox', repaired: null });
  });
});
