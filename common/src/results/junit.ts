/**
 * Parses pytest's JUnit XML (xunit2) into test results. The XML comes from inside the sandbox:
 * it is size-capped by the caller, entity expansion by the parser is off (no DTD entities, no
 * billion laughs), and the five XML entities and character references are decoded here, exactly;
 * CDATA sections are kept as they are. Every field is coerced and capped.
 */
import { XMLParser } from 'fast-xml-parser';

/** pytest's outcomes of a test (`xfailed`/`xpassed` only from test-outcomes.jsonl), plus PyTI's `flaky`. */
export type TestOutcome = 'passed' | 'failed' | 'error' | 'skipped' | 'xfailed' | 'xpassed' | 'flaky';

export interface TestCaseResult {
  /** pytest's node id (from test-outcomes.jsonl); from JUnit XML, `classname::name`. */
  id: string;
  /** From JUnit XML only: the dotted module and class path. */
  classname?: string;
  /** The test's own name: the node id's last part (`test_x[param]`). */
  name: string;
  outcome: TestOutcome;
  /** Setup, call and teardown together, in milliseconds. */
  durationMs: number;
  /** The phase that decided the outcome (`setup`, `call`, `teardown`, `collect`), when known. */
  when?: string;
  /** Failure/error/skip message (capped). */
  message?: string;
  /** Failure or error traceback (capped). */
  traceback?: string;
  /** True when the failure looks like the test needed the network (which the sandbox does not have). */
  needsNetwork?: boolean;
  /** Reports of older slaves: duration in seconds. */
  durationSeconds?: number;
}

/** What the test task found, as the report says it. */
export type TestRunStatus = 'ran' | 'no tests' | 'not run';

export interface TestSummary {
  /** `ran`: the suite ran; `no tests`: the distribution has none; `not run`: see `reason`. Absent in older reports. */
  status?: TestRunStatus;
  /** Why the tests did not run, or why there are none. */
  reason?: string;
  /** Test requirements missing for the tests to run (`test-fail:deps`). */
  missingRequirements?: string[];
  total: number;
  passed: number;
  /** Failed tests, flaky ones not counted. */
  failed: number;
  errors: number;
  skipped: number;
  xfailed?: number;
  xpassed?: number;
  /** Node ids of the tests that failed in the run and passed when run again alone (not failures). */
  flaky?: string[];
  durationSeconds: number;
  cases: TestCaseResult[];
  /** Cases counted but left out of `cases` (its cap). */
  casesOmitted?: number;
  /** Where the per-test results came from. */
  source?: 'test-outcomes.jsonl' | 'junit.xml';
  /** How pytest was run: its config file, how the test paths were chosen, the paths passed. */
  run?: {
    config?: string | null; discovery?: string; args?: string[] | null; imageTools?: string[]; installed?: string[];
    /** Test requirements with no matching version to install, installed by their bare name (`installed`: the version it got). */
    relaxed?: { requirement: string; installed?: string }[];
    /** What installed the test requirements: `installer` (the host's install plan, no resolver in the guest) or `pip`. */
    installer?: 'installer' | 'pip';
  };
}

/** Cases kept in a report. */
export const MAX_CASES = 60000;
const MAX_TEXT = 16 * 1024;
const NETWORK_MARKERS = /gaierror|Name or service not known|Temporary failure in name resolution|ConnectionRefusedError|Network is unreachable|No route to host|NewConnectionError|URLError|socket\.timeout|ConnectTimeout/;

/** True when a failure's text looks like it needed the network. */
export function needsNetwork(text: string): boolean {
  return NETWORK_MARKERS.test(text);
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/**
 * Decodes XML's predefined entities and character references (`&#10;`, `&#x1F600;`) in one pass,
 * so `&amp;lt;` becomes `&lt;`, not `<`. Unknown entities and invalid code points stay as written.
 */
export function decodeXmlText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,4});/g, (all, ref: string) => {
    if (ref[0] !== '#') return ENTITIES[ref] ?? all;
    const cp = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : all;
  });
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const CDATA = '__cdata';
/** An element's text: its character data decoded, its CDATA sections as they are. */
const text = (v: unknown): string => {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'object') return decodeXmlText(String(v));
  const o = v as Record<string, unknown>;
  const t = o['#text'];
  const parts = asArray(t as unknown).map((x) => decodeXmlText(String(x)));
  for (const c of asArray(o[CDATA] as unknown)) parts.push(typeof c === 'object' && c !== null ? String((c as Record<string, unknown>)['#text'] ?? '') : String(c));
  return parts.join('');
};
const attr = (o: unknown, name: string): string =>
  typeof o === 'object' && o !== null && (o as Record<string, unknown>)[name] !== undefined ? decodeXmlText(String((o as Record<string, unknown>)[name])) : '';
const cap = (s: string): string => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}\n[… truncated]` : s);

/** Counts of a list of cases, by outcome. */
export function countOutcomes(cases: TestCaseResult[]): Pick<TestSummary, 'total' | 'passed' | 'failed' | 'errors' | 'skipped' | 'xfailed' | 'xpassed'> {
  const n = (o: TestOutcome): number => cases.filter((c) => c.outcome === o).length;
  return { total: cases.length, passed: n('passed'), failed: n('failed'), errors: n('error'), skipped: n('skipped'), xfailed: n('xfailed'), xpassed: n('xpassed') };
}

/** Parses JUnit XML text. Malformed XML throws an Error with a clear message. */
export function parseJunit(xml: string): TestSummary {
  const parser = new XMLParser({
    ignoreAttributes: false, attributeNamePrefix: '', processEntities: false, htmlEntities: false,
    parseTagValue: false, parseAttributeValue: false, trimValues: false, cdataPropName: CDATA,
  });
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml, true) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`malformed JUnit XML: ${(err as Error).message}`);
  }
  const root = (doc.testsuites ?? doc) as Record<string, unknown>;
  const suites = asArray(root.testsuite as Record<string, unknown> | Record<string, unknown>[]);
  const cases: TestCaseResult[] = [];
  let durationSeconds = 0;
  let omitted = 0;
  for (const s of suites) {
    durationSeconds += Number(s.time) || 0;
    for (const c of asArray(s.testcase as Record<string, unknown> | Record<string, unknown>[])) {
      if (cases.length >= MAX_CASES) {
        omitted++;
        continue;
      }
      const classname = attr(c, 'classname').slice(0, 500);
      const name = attr(c, 'name').slice(0, 500);
      let outcome: TestOutcome = 'passed';
      let detail: unknown;
      if (c.failure !== undefined) [outcome, detail] = ['failed', asArray(c.failure)[0]];
      else if (c.error !== undefined) [outcome, detail] = ['error', asArray(c.error)[0]];
      else if (c.skipped !== undefined) {
        detail = asArray(c.skipped)[0];
        outcome = attr(detail, 'type') === 'pytest.xfail' ? 'xfailed' : 'skipped';
      }
      const r: TestCaseResult = { id: `${classname}::${name}`, classname, name, outcome, durationMs: Math.round((Number(c.time) || 0) * 1e6) / 1000 };
      if (detail !== undefined) {
        const msg = attr(detail, 'message');
        const tb = text(detail);
        if (msg) r.message = cap(msg);
        if (tb) r.traceback = cap(tb);
        if (outcome === 'failed' || outcome === 'error') r.needsNetwork = needsNetwork(`${msg}\n${tb}`);
      }
      cases.push(r);
    }
  }
  return {
    ...countOutcomes(cases), total: cases.length + omitted,
    durationSeconds: Math.round(durationSeconds * 1000) / 1000, cases, ...(omitted ? { casesOmitted: omitted } : {}),
    source: 'junit.xml',
  };
}
