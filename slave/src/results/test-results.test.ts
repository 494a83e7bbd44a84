/**
 * JUnit decoding and the test-outcomes parser, on real pytest output: testdata/pytest-junit.xml and
 * testdata/pytest-outcomes.jsonl were written by pytest 7.2.1 (the guest image's) running
 * testdata/test_sample.py with PyTI's plugin (tasks/guest/pytest_plugin/pyti_outcomes.py).
 */
import { readFileSync } from 'node:fs';
import { decodeXmlText, parseJunit, nameOfNodeId, parseTestOutcomes } from '@pyti/common';
import { buildTestSummary, capCases, parsePerf, testRunInfraError } from './test-summary.js';

const data = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

describe('decodeXmlText', () => {
  it('decodes the five entities and character references once, and leaves the rest', () => {
    expect(decodeXmlText('&lt;a&gt; &amp; &quot;q&quot; &apos;s&apos;')).toBe('<a> & "q" \'s\'');
    expect(decodeXmlText('a&#10;b&#x9;c&#x1F600;')).toBe('a\nb\tc😀');
    expect(decodeXmlText('&amp;lt;')).toBe('&lt;'); // one pass
    expect(decodeXmlText('&nbsp; &#xD800; & &;')).toBe('&nbsp; &#xD800; & &;');
  });
});

describe('parseJunit on pytest\'s real output', () => {
  const s = parseJunit(data('pytest-junit.xml'));

  it('names equal pytest\'s: parameters with <, &, quotes and newlines decoded exactly', () => {
    expect(s.cases.map((c) => c.name)).toEqual([
      'test_lt', 'test_multi', 'test_param[<a>]', 'test_param[b&c]', 'test_param[q"q]', 'test_param[new\\nline]',
      'test_param[\\xe9]', 'test_ok', 'test_skip', 'test_xf',
    ]);
    expect(s.cases.map((c) => c.classname)).toContain('test_sample.TestK');
    expect(s).toMatchObject({ total: 10, passed: 2, failed: 6, errors: 0, skipped: 1, xfailed: 1, source: 'junit.xml' });
  });

  it('messages and tracebacks: multi-line, with entities decoded', () => {
    const lt = s.cases.find((c) => c.name === 'test_lt')!;
    expect(lt.message).toBe('AssertionError: one is not < zero & "quoted" \'single\'\nassert 1 < 0');
    expect(lt.traceback).toContain('>       assert 1 < 0, "one is not < zero & \\"quoted\\" \'single\'"');
    expect(lt.traceback).not.toMatch(/&lt;|&amp;|&#10;/);
    const multi = s.cases.find((c) => c.name === 'test_multi')!;
    expect(multi.message!.split('\n')).toEqual(["AssertionError: assert 'a\\nb' == 'a\\nc'", '    a', '  - c', '  + b']);
    expect(s.cases.find((c) => c.name === 'test_skip')!.message).toBe('skip <me> & you');
  });

  it('CDATA is kept as written, next to decoded text', () => {
    const xml = '<testsuites><testsuite time="1.5"><testcase classname="m" name="t&lt;1&gt;" time="0.25"><failure message="m &amp; n"><![CDATA[raw &lt; <x>]]></failure></testcase></testsuite></testsuites>';
    const r = parseJunit(xml);
    expect(r.cases[0]).toMatchObject({ id: 'm::t<1>', outcome: 'failed', message: 'm & n', traceback: 'raw &lt; <x>', durationMs: 250 });
    expect(r.durationSeconds).toBe(1.5);
  });

  it('malformed XML throws', () => {
    expect(() => parseJunit('<testsuites><testsuite>')).toThrow(/malformed JUnit XML/);
  });
});

describe('parseTestOutcomes', () => {
  it('reads the plugin\'s records with pytest\'s node ids', () => {
    const p = parseTestOutcomes(data('pytest-outcomes.jsonl'));
    expect(p.rootdir).toBe('/tmp');
    expect(p.cases.map((c) => `${c.id}:${c.outcome}`)).toEqual([
      'test_sample.py::test_lt:failed', 'test_sample.py::test_multi:failed', 'test_sample.py::test_param[<a>]:failed',
      'test_sample.py::test_param[b&c]:failed', 'test_sample.py::test_param[q"q]:failed', 'test_sample.py::test_param[new\\nline]:failed',
      'test_sample.py::test_param[\\xe9]:passed', 'test_sample.py::TestK::test_ok:passed', 'test_sample.py::test_skip:skipped',
      'test_sample.py::test_xf:xfailed',
    ]);
    expect(p.summary).toEqual({ failed: 6, passed: 2, skipped: 1, xfailed: 1 });
    expect(p.exitstatus).toBe(1);
    const lt = p.cases[0]!;
    expect(lt).toMatchObject({ name: 'test_lt', when: 'call', needsNetwork: false });
    expect(lt.message).toBe('AssertionError: one is not < zero & "quoted" \'single\'\nassert 1 < 0');
    expect(lt.traceback).toContain('test_sample.py:4: AssertionError');
    expect(p.cases.find((c) => c.id.endsWith('test_skip'))!.message).toBe('skip <me> & you');
    // The same tests as JUnit names them.
    expect(p.cases.map((c) => c.name)).toEqual(parseJunit(data('pytest-junit.xml')).cases.map((c) => c.name));
  });

  it('counts bad lines, validates outcomes and caps the cases', () => {
    const text = [
      '{"nodeid": "a.py::t", "outcome": "passed", "duration": 0.5}', 'not json', '[1]',
      '{"nodeid": "b.py::t", "outcome": "exploded"}', '{"nodeid": 3, "outcome": "passed"}',
      '{"nodeid": "c.py::t", "outcome": "failed", "duration": -1, "message": "gaierror: Name or service not known"}',
      '{"nodeid": "d.py::t", "outcome": "passed"}',
    ].join('\n');
    const p = parseTestOutcomes(text, 2);
    expect(p.invalid).toBe(4);
    expect(p.cases.map((c) => [c.id, c.durationMs])).toEqual([['a.py::t', 500], ['c.py::t', 0]]);
    expect(p.cases[1]!.needsNetwork).toBe(true);
    expect(p.omitted).toBe(1);
  });

  it('names of node ids', () => {
    expect(nameOfNodeId('tests/test_a.py::TestC::test_x[a::b]')).toBe('b]');
    expect(nameOfNodeId('tests/test_a.py::TestC::test_x')).toBe('test_x');
    expect(nameOfNodeId('tests/test_broken.py')).toBe('test_broken.py');
  });
});

describe('buildTestSummary', () => {
  const outcomes = Buffer.from(data('pytest-outcomes.jsonl'));

  it('flaky tests are listed and not counted as failures', () => {
    const notes: string[] = [];
    const s = buildTestSummary({ pytestJson: { status: 'ran', flaky: ['test_sample.py::test_lt', 'not-a-failed-test'], duration_seconds: 1.25 }, outcomes, task: { status: 'pass' } }, notes)!;
    expect(s).toMatchObject({ status: 'ran', total: 10, passed: 2, failed: 5, skipped: 1, xfailed: 1, flaky: ['test_sample.py::test_lt'], durationSeconds: 1.25 });
    expect(s.cases[0]!.outcome).toBe('flaky');
    expect(notes).toEqual([]);
  });

  it('past the case cap, counts come from the plugin\'s summary', () => {
    const big = [...Array.from({ length: 5 }, (_, i) => JSON.stringify({ nodeid: `t.py::t${i}`, outcome: 'passed' })),
      JSON.stringify({ summary: { passed: 70000, failed: 3 }, exitstatus: 1, records: 5, omitted: 69998 })].join('\n');
    const s = buildTestSummary({ pytestJson: { status: 'ran' }, outcomes: Buffer.from(big), task: { status: 'pass' } }, [])!;
    expect(s).toMatchObject({ total: 70003, passed: 70000, failed: 3, casesOmitted: 69998 });
    expect(s.cases).toHaveLength(5);
  });

  it('a byte budget keeps every failure and as many of the others as fit, in run order', () => {
    const cases = Array.from({ length: 100 }, (_, i) => ({ id: `t.py::t${i}`, name: `t${i}`, outcome: (i % 10 === 9 ? 'failed' : 'passed') as 'failed' | 'passed', durationMs: 1 }));
    const one = JSON.stringify(cases[0]).length + 1;
    const kept = capCases(cases, one * 30);
    expect(kept.length).toBeGreaterThanOrEqual(27); // ids of two digits are a byte longer
    expect(kept.length).toBeLessThanOrEqual(30);
    expect(kept.filter((c) => c.outcome === 'failed')).toHaveLength(10);
    expect(kept.map((c) => Number(c.name.slice(1)))).toEqual([...kept.map((c) => Number(c.name.slice(1)))].sort((a, b) => a - b));
    expect(capCases(cases)).toBe(cases);
  });

  it('missing test requirements, no tests, and a task that never ran', () => {
    expect(buildTestSummary({ pytestJson: { status: 'deps', missing: ['pretend'], reason: 'not in the wheelhouse: pretend' }, task: { status: 'fail', exitCode: 3 } }, []))
      .toMatchObject({ status: 'not run', missingRequirements: ['pretend'], reason: 'not in the wheelhouse: pretend', total: 0 });
    expect(buildTestSummary({ pytestJson: { status: 'no tests', reason: 'pytest collected no tests' }, task: { status: 'pass' } }, []))
      .toMatchObject({ status: 'no tests', reason: 'pytest collected no tests' });
    expect(buildTestSummary({ task: { status: 'skipped', reason: 'run halted by build' } }, []))
      .toMatchObject({ status: 'not run', reason: 'not run: run halted by build', cases: [] });
    expect(buildTestSummary({ task: { status: 'timeout', reason: 'wall-clock limit' } }, []))
      .toMatchObject({ status: 'not run', reason: 'timeout: wall-clock limit' });
    expect(buildTestSummary({}, [])).toBeUndefined();
  });

  it('falls back to junit.xml, and notes what it could not parse', () => {
    const notes: string[] = [];
    expect(buildTestSummary({ junit: Buffer.from(data('pytest-junit.xml')), task: { status: 'pass' } }, notes)).toMatchObject({ source: 'junit.xml', total: 10 });
    expect(buildTestSummary({ junit: Buffer.from('<x'), task: { status: 'pass' } }, notes)).toMatchObject({ status: 'not run' });
    expect(notes[0]).toMatch(/^junit\.xml: malformed/);
  });
});

describe('perf and infrastructure failures', () => {
  it('parsePerf validates and rounds', () => {
    expect(parsePerf({ tests: [{ test: 'a.py::t', runs: 5, minMs: 1.23456, medianMs: 2, maxMs: 3 }, { test: 7 }, { test: 'b.py::t', runs: 0 }] }))
      .toEqual([{ test: 'a.py::t', runs: 5, minMs: 1.235, medianMs: 2, maxMs: 3 }, { test: 'b.py::t', runs: 0 }]);
    expect(parsePerf(undefined)).toBeUndefined();
  });

  it('a run the sandbox failed (exit 75, status infra) is error:sandbox; a package failure is not', () => {
    const raw = (pj: unknown) => new Map([['test', new Map([['pytest.json', Buffer.from(JSON.stringify(pj))]])]]);
    const run = (exitCode: number, status: 'fail' | 'oom' = 'fail') => ({ verdict: 'fail' as const, tasks: [{ id: 'test', status, exitCode, rawFiles: [] }], durationMs: 1 });
    expect(testRunInfraError({ run: run(75), raw: raw({ status: 'infra', infra: 'the sandbox ran out of disk space (ENOSPC)' }) }))
      .toMatchObject({ kind: 'error:sandbox', message: expect.stringContaining('ENOSPC') });
    expect(testRunInfraError({ run: run(1), raw: raw({ status: 'infra' }) })).toBeUndefined();
    expect(testRunInfraError({ run: run(75, 'oom'), raw: raw({ status: 'infra' }) })).toBeUndefined();
    expect(testRunInfraError({ run: run(75), raw: raw({ status: 'ran' }) })).toBeUndefined();
  });
});
