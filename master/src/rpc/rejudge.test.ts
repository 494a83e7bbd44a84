import { tinyReport } from '../testing/tiny-dists.js';
import { checkComplete } from './validate.js';

const complete = (report: unknown) => checkComplete({ leaseId: 'l-1', outcome: { kind: 'report', report, artifacts: [] } }).outcome;

describe('the master re-judges every report', () => {
  it('stores a report a hostile slave calls clean, with a critical finding, as malicious', () => {
    const report = { ...tinyReport('evil', '1.0', 'clean'), score: 0, scoreReasons: [], findings: [{ rule: 'sensitive-write', severity: 'critical', phase: 'build', title: 'build writes ~/.ssh/authorized_keys', evidence: [] }] };
    const out = complete(report);
    expect(out).toMatchObject({ kind: 'report', verdict: 'malicious', score: 100 });
    const stored = JSON.parse((out as { reportJson: string }).reportJson);
    expect(stored).toMatchObject({ verdict: 'malicious', score: 100, maxSeverity: 'critical', scoreReasons: [{ rule: 'sensitive-write', points: 100 }] });
    expect(stored.observation).toMatchObject({ kind: 'is_malware', inspector_url: 'https://inspector.pypi.io/project/evil/1.0/' });
  });

  it('takes away a verdict and an observation the findings do not support', () => {
    const report = { ...tinyReport('fine', '1.0', 'clean'), verdict: 'malicious', score: 500, observation: { kind: 'is_malware', summary: 'lies', inspector_url: 'https://inspector.pypi.io/project/other/1/' } };
    const out = complete(report);
    expect(out).toMatchObject({ verdict: 'clean', score: 0 });
    expect(JSON.parse((out as { reportJson: string }).reportJson).observation).toBeUndefined();
  });

  it('accepts an older slave\'s flagged and stores what the findings say; refuses findings of no shape', () => {
    expect(complete(tinyReport('old', '1.0', 'flagged'))).toMatchObject({ verdict: 'suspicious', score: 40 });
    for (const bad of [null, 7, 'x', [], { severity: 'critical' }, { rule: 'r', severity: 'critical', title: 't' }]) {
      expect(() => complete({ ...tinyReport('odd', '1.0', 'clean'), findings: [bad] })).toThrow(expect.objectContaining({ code: 'PYTI_REPORT_REJECTED', leaseId: 'l-1' }));
    }
    expect(complete({ ...tinyReport('bf', '1.0', 'failed'), findings: [{ rule: 'network-attempt', severity: 'high', phase: 'build', title: 'x', evidence: [] }] })).toMatchObject({ verdict: 'suspicious' });
    expect(() => complete({ ...tinyReport('x', '1.0'), verdict: 'great' })).toThrow(/verdict/);
  });
});
