/**
 * `pyti rescore <report-dir>…`: re-runs the current rules over each stored report's raw traces (and
 * the static rules over its kept distribution), rewrites report.json and report.html, and prints
 * `old verdict → new verdict` per report and a summary. Exit 0 when every report was re-judged,
 * 2 when one could not be read.
 */
import { resolve } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { rescoreDir } from '../report/rescore-dir.js';

/** Runs `pyti rescore` over `dirs`; resolves to the exit code. */
export async function rescoreCommand(dirs: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  if (!dirs.length) throw new PytiError('PYTI_USAGE', 'rescore takes one or more report directories');
  let changed = 0;
  let failed = 0;
  const tally = new Map<string, number>();
  for (const d of dirs) {
    try {
      const o = await rescoreDir(resolve(d));
      const moved = o.before.verdict !== o.after.verdict || o.before.score !== o.after.score;
      if (moved) changed++;
      tally.set(o.after.verdict, (tally.get(o.after.verdict) ?? 0) + 1);
      const was = `${o.before.verdict}${o.before.score !== undefined ? ` (${o.before.score})` : ''}`;
      out(`${d}: ${was} → ${o.after.verdict} (${o.after.score})${o.staticRerun ? '' : ' [static findings kept: no matching dist/ copy]'}\n`);
    } catch (e) {
      failed++;
      err(`${d}: ${e instanceof PytiError ? `error ${e.code}: ` : ''}${(e as Error).message}\n`);
    }
  }
  const counts = [...tally].map(([v, n]) => `${n} ${v}`).join(', ');
  out(`rescored ${dirs.length - failed} of ${dirs.length} reports, ${changed} changed${counts ? `: ${counts}` : ''}\n`);
  return failed ? 2 : 0;
}
