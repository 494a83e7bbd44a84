/**
 * The verdict and score of an audit, from its findings (dynamic and static) and its result.
 *
 * Score: each distinct rule earns the points of its most severe finding (critical 100, high 40,
 * medium 15, low 2, info 0); more findings of one rule add nothing, distinct rules add up.
 *
 * Verdict, decided by the findings first, whatever the build or the tests did (a setup.py that
 * connects to a raw IP and then fails to build is still judged on the connection):
 * - `malicious`: score ≥ 100 — any critical finding, or e.g. three distinct high rules;
 * - `suspicious`: below 100 with at least one finding of medium or above;
 * - otherwise (nothing above low) the result decides:
 *   - `error`: an infrastructure error (`error:*`), PyTI could not audit;
 *   - `failed`: the package could not be fully observed — inspect, build or install failed, so
 *     nothing of it ran past that point (import and test failures were observed: they are `clean`);
 *   - `clean`.
 */
import { SEVERITY_ORDER, severityAtLeast, type Finding, type Severity } from './finding.js';
import type { Verdict } from '../report/audit-report.js';

/** The verdicts of an audit (see judge), most serious first. */
export const VERDICTS: readonly Verdict[] = ['malicious', 'suspicious', 'clean', 'failed', 'error'];

/** Points a rule earns for its most severe finding. */
export const SEVERITY_POINTS: Readonly<Record<Severity, number>> = { critical: 100, high: 40, medium: 15, low: 2, info: 0 };
/** Score from which the verdict is `malicious`. */
export const MALICIOUS_SCORE = 100;

/** One rule's share of the score: the rule, its most severe finding's severity and title. */
export interface ScoreReason {
  rule: string;
  severity: Severity;
  points: number;
  title: string;
}

export interface Judgement {
  verdict: Verdict;
  score: number;
  /** The rules that earned points, most points first. */
  reasons: ScoreReason[];
}

/** Results that mean the package could not be fully observed (nothing of it ran past the failure). */
const UNOBSERVED = /^(inspect|build|install)-fail\b/;

/** Verdict and score from findings and the result category (e.g. `pass`, `build-fail:deps`, `error:sandbox`). */
export function judge(findings: readonly Finding[], result: string): Judgement {
  const best = new Map<string, Finding>();
  for (const f of findings) {
    if (typeof f?.rule !== 'string' || !SEVERITY_ORDER.includes(f.severity)) continue;
    const cur = best.get(f.rule);
    if (!cur || SEVERITY_ORDER.indexOf(f.severity) > SEVERITY_ORDER.indexOf(cur.severity)) best.set(f.rule, f);
  }
  const reasons: ScoreReason[] = [...best.values()]
    .map((f) => ({ rule: f.rule, severity: f.severity, points: SEVERITY_POINTS[f.severity], title: String(f.title ?? '').slice(0, 500) }))
    .filter((r) => r.points > 0)
    .sort((a, b) => b.points - a.points || a.rule.localeCompare(b.rule));
  const score = reasons.reduce((s, r) => s + r.points, 0);
  const serious = reasons.some((r) => severityAtLeast(r.severity, 'medium'));
  const verdict: Verdict =
    score >= MALICIOUS_SCORE ? 'malicious'
      : serious ? 'suspicious'
        : result.startsWith('error') ? 'error'
          : UNOBSERVED.test(result) ? 'failed'
            : 'clean';
  return { verdict, score, reasons };
}
