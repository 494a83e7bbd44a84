/**
 * Parses pytest's JUnit XML (xunit2) into test results. The XML comes from inside the sandbox:
 * it is size-capped by the caller, entity expansion is off, and every field is coerced and capped.
 */
import { XMLParser } from 'fast-xml-parser';

export type TestOutcome = 'passed' | 'failed' | 'error' | 'skipped';

export interface TestCaseResult {
  /** `classname::name`, as pytest reports it. */
  id: string;
  classname: string;
  name: string;
  outcome: TestOutcome;
  durationSeconds: number;
  /** Failure/error message and traceback (capped). */
  message?: string;
  traceback?: string;
  /** True when the failure looks like the test needed the network (which the sandbox does not have). */
  needsNetwork?: boolean;
}

export interface TestSummary {
  total: number;
  passed: number;
  failed: number;
  errors: number;
  skipped: number;
  durationSeconds: number;
  cases: TestCaseResult[];
}

const MAX_CASES = 5000;
const MAX_TEXT = 16 * 1024;
const NETWORK_MARKERS = /gaierror|Name or service not known|Temporary failure in name resolution|ConnectionRefusedError|Network is unreachable|No route to host|NewConnectionError|URLError|socket\.timeout|ConnectTimeout/;

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const text = (v: unknown): string => {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return String((v as Record<string, unknown>)['#text'] ?? '');
  return String(v);
};
const cap = (s: string): string => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}\n[… truncated]` : s);

/** Parses JUnit XML text. Malformed XML throws an Error with a clear message. */
export function parseJunit(xml: string): TestSummary {
  const parser = new XMLParser({
    ignoreAttributes: false, attributeNamePrefix: '', processEntities: false, htmlEntities: false,
    parseTagValue: false, parseAttributeValue: false, trimValues: false,
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
  for (const s of suites) {
    durationSeconds += Number(s.time) || 0;
    for (const c of asArray(s.testcase as Record<string, unknown> | Record<string, unknown>[])) {
      if (cases.length >= MAX_CASES) break;
      const classname = String(c.classname ?? '').slice(0, 500);
      const name = String(c.name ?? '').slice(0, 500);
      let outcome: TestOutcome = 'passed';
      let detail: unknown;
      if (c.failure !== undefined) [outcome, detail] = ['failed', asArray(c.failure)[0]];
      else if (c.error !== undefined) [outcome, detail] = ['error', asArray(c.error)[0]];
      else if (c.skipped !== undefined) [outcome, detail] = ['skipped', asArray(c.skipped)[0]];
      const r: TestCaseResult = { id: `${classname}::${name}`, classname, name, outcome, durationSeconds: Number(c.time) || 0 };
      if (detail !== undefined) {
        const msg = typeof detail === 'object' && detail !== null ? String((detail as Record<string, unknown>).message ?? '') : '';
        const tb = text(detail);
        if (msg) r.message = cap(msg);
        if (tb) r.traceback = cap(tb);
        if (outcome === 'failed' || outcome === 'error') r.needsNetwork = NETWORK_MARKERS.test(`${msg}\n${tb}`);
      }
      cases.push(r);
    }
  }
  const count = (o: TestOutcome): number => cases.filter((c) => c.outcome === o).length;
  return {
    total: cases.length, passed: count('passed'), failed: count('failed'), errors: count('error'), skipped: count('skipped'),
    durationSeconds: Math.round(durationSeconds * 1000) / 1000, cases,
  };
}
