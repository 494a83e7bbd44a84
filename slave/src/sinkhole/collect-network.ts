/**
 * Gathers the sinkhole records of an audit: the `sinkhole.jsonl` of every traced task of the plan
 * that ran on the sinkhole network, parsed (parse-sinkhole.ts) in plan order. Problems (lines
 * rejected, the sinkhole unavailable) become report notes.
 */
import type { Plan } from '@pyti/vm-agent';
import { PHASES, type Phase, type SinkholeRecord } from '@pyti/common';
import { parseSinkholeLog, SINKHOLE_LIMITS } from './parse-sinkhole.js';

/** The name of a task's sinkhole log among its raw files. */
export const SINKHOLE_RAW_FILE = 'sinkhole.jsonl';

/**
 * The records of every sinkhole phase, or undefined when no phase ran on the sinkhole (or none sent
 * its log). At most `SINKHOLE_LIMITS.records` in all.
 */
export function collectNetwork(plan: Plan, raw: (task: string, name: string) => Buffer | undefined, notes: string[]): SinkholeRecord[] | undefined {
  let out: SinkholeRecord[] | undefined;
  for (const spec of plan.tasks) {
    if (spec.network !== 'sinkhole' || !(PHASES as readonly string[]).includes(spec.id)) continue;
    const buf = raw(spec.id, SINKHOLE_RAW_FILE);
    if (!buf) continue;
    const parsed = parseSinkholeLog(buf, spec.id as Phase);
    out ??= [];
    const room = SINKHOLE_LIMITS.records - out.length;
    out.push(...parsed.records.slice(0, room));
    const over = Math.max(0, parsed.records.length - room);
    if (parsed.rejected + over) notes.push(`${spec.id}/${SINKHOLE_RAW_FILE}: ${parsed.rejected + over} lines rejected (malformed or over a limit)`);
    for (const n of parsed.notes) notes.push(`${spec.id} network: ${n}`);
  }
  return out;
}
