/**
 * Regression against the previous release (debci's "regression against previous"): a small pure
 * test over two stored reports of the same project, the new release's and the previous release's.
 * The new audit regressed when it is flagged (malicious or suspicious) and the previous one was not
 * (or it is malicious where the previous was only suspicious), when its tests fail where the
 * previous release's passed (or had none), or when it has findings of medium severity or above
 * under rules the previous audit did not trigger.
 *
 * Reports come from the database and were written by slaves: every field is read defensively.
 */

/** What the regression test reads of a stored report. */
export interface RegressionView {
  verdict?: unknown;
  result?: unknown;
  findings?: unknown;
}

/** The outcome: `regressed`, and one human reason per way it regressed. */
export interface Regression {
  regressed: boolean;
  reasons: string[];
}

const FLAG_RANK: Record<string, number> = { suspicious: 1, malicious: 2 };
const REPORTED_SEVERITIES = new Set(['medium', 'high', 'critical']);

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Rule ids of the report's findings of medium severity or above. */
function seriousRules(findings: unknown): Set<string> {
  const out = new Set<string>();
  if (!Array.isArray(findings)) return out;
  for (const f of findings) {
    if (typeof f !== 'object' || f === null) continue;
    const { rule, severity } = f as { rule?: unknown; severity?: unknown };
    if (typeof rule === 'string' && typeof severity === 'string' && REPORTED_SEVERITIES.has(severity)) out.add(rule.slice(0, 100));
  }
  return out;
}

const testsFail = (result: string): boolean => result === 'test-fail' || result.startsWith('test-fail:');
const testsFine = (result: string): boolean => result === 'pass' || result === 'no-tests';

/** Whether `next` (the new release's report) regressed against `previous` (the previous release's). */
export function regressionOf(previous: RegressionView, next: RegressionView): Regression {
  const reasons: string[] = [];
  const was = str(previous.verdict);
  const now = str(next.verdict);
  if ((FLAG_RANK[now] ?? 0) > (FLAG_RANK[was] ?? 0)) reasons.push(`verdict ${now} (the previous release was ${was || 'not judged'})`);
  const before = str(previous.result);
  const after = str(next.result);
  if (testsFail(after) && testsFine(before)) reasons.push(`tests fail: ${after} (the previous release was ${before})`);
  const old = seriousRules(previous.findings);
  const added = [...seriousRules(next.findings)].filter((r) => !old.has(r)).sort();
  if (added.length) reasons.push(`new finding${added.length > 1 ? 's' : ''}: ${added.slice(0, 20).join(', ')}`);
  return { regressed: reasons.length > 0, reasons };
}
