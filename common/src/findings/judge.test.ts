import type { Finding, Severity } from './finding.js';
import { judge } from './judge.js';

const f = (rule: string, severity: Severity, title = `${rule} fired`): Finding => ({ rule, severity, phase: 'install', title, evidence: [] });

describe('judge', () => {
  it('calls a package with no findings clean, and keeps import and test failures clean', () => {
    expect(judge([], 'pass')).toEqual({ verdict: 'clean', score: 0, reasons: [] });
    expect(judge([f('compiler', 'info')], 'test-fail').verdict).toBe('clean');
    expect(judge([f('unexpected-write', 'low')], 'import-fail').verdict).toBe('clean');
  });

  it('calls a package failed when it could not be observed and nothing above low was found', () => {
    for (const r of ['inspect-fail', 'build-fail', 'build-fail:deps', 'install-fail:timeout']) {
      expect(judge([f('unexpected-write', 'low')], r)).toMatchObject({ verdict: 'failed', score: 2 });
    }
  });

  it('calls an infrastructure error with no finding error', () => {
    expect(judge([], 'error:sandbox').verdict).toBe('error');
    expect(judge([f('unexpected-write', 'low')], 'error:job-timeout').verdict).toBe('error');
  });

  it('calls a build-fail with a critical finding malicious, whatever the result', () => {
    const j = judge([f('network-attempt', 'critical', 'build connects to 203.0.113.9:443')], 'build-fail');
    expect(j).toEqual({ verdict: 'malicious', score: 100, reasons: [{ rule: 'network-attempt', severity: 'critical', points: 100, title: 'build connects to 203.0.113.9:443' }] });
    expect(judge([f('x', 'critical')], 'error:sandbox').verdict).toBe('malicious');
  });

  it('calls medium and high findings suspicious, even when the build failed', () => {
    expect(judge([f('dns-lookup', 'high')], 'build-fail')).toMatchObject({ verdict: 'suspicious', score: 40 });
    expect(judge([f('persistence', 'medium'), f('unexpected-write', 'low')], 'pass')).toMatchObject({ verdict: 'suspicious', score: 17 });
  });

  it('adds distinct rules up (three highs are malicious) but not repeated findings of one rule', () => {
    expect(judge([f('a', 'high'), f('a', 'high'), f('a', 'medium')], 'pass')).toMatchObject({ verdict: 'suspicious', score: 40 });
    const j = judge([f('a', 'high'), f('b', 'high'), f('c', 'high'), f('d', 'low'), f('e', 'info')], 'pass');
    expect(j.verdict).toBe('malicious');
    expect(j.score).toBe(122);
    expect(j.reasons.map((r) => r.rule)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('never calls many low findings more than clean', () => {
    const lows = Array.from({ length: 20 }, (_, i) => f(`r${i}`, 'low'));
    expect(judge(lows, 'pass')).toMatchObject({ verdict: 'clean', score: 40 });
  });

  it('ignores findings of unknown severity (a hostile report)', () => {
    expect(judge([{ ...f('x', 'high'), severity: 'apocalyptic' as Severity }], 'pass').verdict).toBe('clean');
  });
});
