/**
 * Parses test-outcomes.jsonl, written in the sandbox by PyTI's pytest plugin
 * (tasks/guest/pytest_plugin/pyti_outcomes.py): one line per test with pytest's own node id. The file
 * is untrusted: every line is validated, fields are coerced and capped, bad lines are counted.
 */
import { MAX_CASES, needsNetwork, type TestCaseResult, type TestOutcome } from './junit.js';

const OUTCOMES: ReadonlySet<string> = new Set(['passed', 'failed', 'error', 'skipped', 'xfailed', 'xpassed']);
const PHASES: ReadonlySet<string> = new Set(['setup', 'call', 'teardown', 'collect']);
const MAX_ID = 2000;
const MAX_MESSAGE = 4000;
const MAX_TRACEBACK = 16 * 1024;

export interface ParsedOutcomes {
  /** pytest's rootdir (the node ids are relative to it). */
  rootdir?: string;
  cases: TestCaseResult[];
  /** Counts by outcome over the whole run (the plugin's last line), when it finished. */
  summary?: Record<string, number>;
  /** Records the plugin or this parser left out (caps). */
  omitted: number;
  /** pytest's exit status, when the session finished. */
  exitstatus?: number;
  /** Lines that were not valid records. */
  invalid: number;
}

/** The test's own name in a node id: its last `::` part, or the file name of a module-level id. */
export function nameOfNodeId(id: string): string {
  const i = id.lastIndexOf('::');
  if (i >= 0) return id.slice(i + 2);
  return id.slice(id.lastIndexOf('/') + 1);
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** Parses the JSONL text; never throws on bad lines (they are counted in `invalid`). */
export function parseTestOutcomes(jsonl: string, maxCases = MAX_CASES): ParsedOutcomes {
  const out: ParsedOutcomes = { cases: [], omitted: 0, invalid: 0 };
  for (const line of jsonl.split('\n')) {
    if (!line.trim()) continue;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      out.invalid++;
      continue;
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      out.invalid++;
      continue;
    }
    const r = o as Record<string, unknown>;
    if (r.pyti === 'outcomes') {
      if (typeof r.rootdir === 'string') out.rootdir = r.rootdir.slice(0, 1000);
      continue;
    }
    if (typeof r.summary === 'object' && r.summary !== null && !Array.isArray(r.summary)) {
      out.summary = {};
      for (const [k, v] of Object.entries(r.summary as Record<string, unknown>)) if (OUTCOMES.has(k)) out.summary[k] = Math.floor(num(v));
      if (Number.isInteger(r.exitstatus)) out.exitstatus = r.exitstatus as number;
      out.omitted += Math.floor(num(r.omitted));
      continue;
    }
    if (typeof r.nodeid !== 'string' || !r.nodeid || typeof r.outcome !== 'string' || !OUTCOMES.has(r.outcome)) {
      out.invalid++;
      continue;
    }
    if (out.cases.length >= maxCases) {
      out.omitted++;
      continue;
    }
    const id = r.nodeid.slice(0, MAX_ID);
    const c: TestCaseResult = { id, name: nameOfNodeId(id), outcome: r.outcome as TestOutcome, durationMs: Math.round(num(r.duration) * 1e6) / 1000 };
    if (typeof r.when === 'string' && PHASES.has(r.when)) c.when = r.when;
    if (typeof r.message === 'string' && r.message) c.message = r.message.slice(0, MAX_MESSAGE);
    if (typeof r.longrepr === 'string' && r.longrepr) c.traceback = r.longrepr.slice(0, MAX_TRACEBACK);
    if (c.outcome === 'failed' || c.outcome === 'error') c.needsNetwork = needsNetwork(`${c.message ?? ''}\n${c.traceback ?? ''}`);
    out.cases.push(c);
  }
  return out;
}
