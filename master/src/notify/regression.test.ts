import { regressionOf } from './regression.js';

const f = (rule: string, severity: string) => ({ rule, severity, title: rule, evidence: [] });

describe('regression against the previous release', () => {
  it('is a regression when the new release is flagged, its tests fail, or it has new serious findings', () => {
    expect(regressionOf({ verdict: 'clean', result: 'pass', findings: [] }, { verdict: 'suspicious', result: 'pass', findings: [f('dns-lookup', 'high')] }))
      .toEqual({ regressed: true, reasons: ['verdict suspicious (the previous release was clean)', 'new finding: dns-lookup'] });
    expect(regressionOf({ verdict: 'suspicious', result: 'pass', findings: [f('dns-lookup', 'high')] }, { verdict: 'malicious', result: 'pass', findings: [f('dns-lookup', 'high'), f('sensitive-write', 'critical')] }))
      .toEqual({ regressed: true, reasons: ['verdict malicious (the previous release was suspicious)', 'new finding: sensitive-write'] });
    expect(regressionOf({ verdict: 'clean', result: 'no-tests' }, { verdict: 'clean', result: 'test-fail:timeout' }))
      .toEqual({ regressed: true, reasons: ['tests fail: test-fail:timeout (the previous release was no-tests)'] });
  });

  it('is no regression when nothing got worse, or the previous release was as bad', () => {
    expect(regressionOf({ verdict: 'clean', result: 'pass', findings: [] }, { verdict: 'clean', result: 'pass', findings: [f('pip-note', 'low')] }).regressed).toBe(false);
    expect(regressionOf({ verdict: 'malicious', result: 'pass', findings: [f('sensitive-write', 'critical')] }, { verdict: 'suspicious', result: 'pass', findings: [f('sensitive-write', 'high')] }).regressed).toBe(false);
    expect(regressionOf({ verdict: 'clean', result: 'test-fail' }, { verdict: 'clean', result: 'test-fail' }).regressed).toBe(false);
    expect(regressionOf({ verdict: 'failed', result: 'build-fail' }, { verdict: 'clean', result: 'test-fail' }).regressed).toBe(false);
  });

  it('reads stored reports defensively', () => {
    expect(regressionOf({ verdict: 7, findings: 'x' }, { verdict: 'suspicious', findings: [null, { rule: 3, severity: 'high' }, f('dns-lookup', 'weird')] }))
      .toEqual({ regressed: true, reasons: ['verdict suspicious (the previous release was not judged)'] });
  });
});
