/**
 * Per-test comparison of PyTI's test results with a native pytest run's. Both sides are keyed the
 * way pytest's JUnit XML names a test (`classname::name`; PyTI's node ids are mangled to that form
 * exactly as pytest's junitxml plugin does) and reduced to pass / fail / error / skip. PyTI's
 * `flaky` (failed, then passed when run again alone) counts as what it finally was: pass; `xfailed`
 * is a skip and `xpassed` a pass, as JUnit XML reports them. A test that appears more than once
 * (a failing call and an erroring teardown) keeps its worst outcome.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTestOutcomes, type TestCaseResult, type TestSummary } from '@pyti/common';

export type Outcome = 'pass' | 'fail' | 'error' | 'skip';

/** pytest's junitxml `mangle_test_address`: node id → `classname::name`. */
export function junitKeyOfNodeId(nodeId: string): string {
  const open = nodeId.indexOf('[');
  const path = open >= 0 ? nodeId.slice(0, open) : nodeId;
  const params = open >= 0 ? nodeId.slice(open) : '';
  const names = path.split('::');
  names[0] = names[0]!.replace(/\//g, '.').replace(/\.py$/, '');
  names[names.length - 1] += params;
  return `${names.slice(0, -1).join('.')}::${names[names.length - 1]}`;
}

const RANK: Record<Outcome, number> = { pass: 0, skip: 1, fail: 2, error: 3 };

function outcomeOf(o: TestCaseResult['outcome']): Outcome {
  switch (o) {
    case 'passed': case 'xpassed': case 'flaky': return 'pass';
    case 'failed': return 'fail';
    case 'error': return 'error';
    default: return 'skip';
  }
}

function toMap(cases: { key: string; outcome: Outcome }[]): Map<string, Outcome> {
  const m = new Map<string, Outcome>();
  for (const c of cases) {
    const prev = m.get(c.key);
    if (!prev || RANK[c.outcome] > RANK[prev]) m.set(c.key, c.outcome);
  }
  return m;
}

/** Native JUnit cases (ids are already `classname::name`). */
export function nativeOutcomes(cases: TestCaseResult[]): Map<string, Outcome> {
  return toMap(cases.map((c) => ({ key: c.classname !== undefined ? `${c.classname}::${c.name}` : c.id, outcome: outcomeOf(c.outcome) })));
}

/** PyTI's report `tests` (node ids from test-outcomes.jsonl, or JUnit ids). */
export function pytiOutcomes(tests: TestSummary | undefined): Map<string, Outcome> {
  if (!tests) return new Map();
  const flaky = new Set(tests.flaky ?? []);
  return toMap(tests.cases.map((c) => {
    const fromJunit = c.classname !== undefined || tests.source === 'junit.xml';
    const key = fromJunit ? (c.classname !== undefined ? `${c.classname}::${c.name}` : c.id) : junitKeyOfNodeId(c.id);
    return { key, outcome: flaky.has(c.id) ? 'pass' : outcomeOf(c.outcome) };
  }));
}

/**
 * PyTI's outcomes for a report directory: the report's cases, or, when the report left cases out to
 * stay within its size budget (`casesOmitted`: suites of tens of thousands of tests), every case of
 * the raw `raw/test/test-outcomes.jsonl` the report was made from (flaky ones as the report says).
 */
export function pytiOutcomesOfReport(tests: TestSummary | undefined, reportDir: string): Map<string, Outcome> {
  const raw = join(reportDir, 'raw', 'test', 'test-outcomes.jsonl');
  if (!tests?.casesOmitted || !existsSync(raw)) return pytiOutcomes(tests);
  const { cases } = parseTestOutcomes(readFileSync(raw, 'utf8'), Number.MAX_SAFE_INTEGER);
  return pytiOutcomes({ ...tests, cases, source: 'test-outcomes.jsonl' });
}

/** The comparison of two outcome maps. */
export interface Parity {
  identical: boolean;
  native: number;
  pyti: number;
  /** Tests whose outcome differs, or that only one side ran (first ones only). */
  differences: string[];
  differenceCount: number;
}

/** A parametrized test's id with its parameters' digits masked (ids made from the clock: `[18:59:56 2026-12-02]`). */
const masked = (k: string): string => k.replace(/\[.*$/s, (params) => params.replace(/\d+/g, '#'));

/**
 * Compares per test; `differences` lists up to `max` of them as `key: native → pyti`. Tests that only
 * one side has are paired up when their ids differ only in the digits of their parameters (ids built
 * from the time of the run), with their outcomes compared.
 */
export function compareOutcomes(native: Map<string, Outcome>, pytiIn: Map<string, Outcome>, max = 5): Parity {
  const diffs: string[] = [];
  let n = 0;
  const pyti = new Map(pytiIn);
  const onlyPyti = new Map<string, string[]>();
  for (const k of pyti.keys()) if (!native.has(k)) onlyPyti.set(masked(k), [...(onlyPyti.get(masked(k)) ?? []), k]);
  for (const k of native.keys()) {
    if (pyti.has(k)) continue;
    const twin = onlyPyti.get(masked(k))?.shift();
    if (twin !== undefined) {
      pyti.set(k, pyti.get(twin)!);
      pyti.delete(twin);
    }
  }
  for (const [k, o] of native) {
    const p = pyti.get(k);
    if (p !== o) {
      n++;
      if (diffs.length < max) diffs.push(`${k}: ${o} → ${p ?? 'absent'}`);
    }
  }
  for (const [k, p] of pyti) {
    if (!native.has(k)) {
      n++;
      if (diffs.length < max) diffs.push(`${k}: absent → ${p}`);
    }
  }
  return { identical: n === 0, native: native.size, pyti: pytiIn.size, differences: diffs, differenceCount: n };
}
