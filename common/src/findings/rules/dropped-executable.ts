/** dropped-executable: a file written, made executable and run, in one trace. */
import { ref, type Rule } from '../rule-kit.js';
import type { Finding } from '../finding.js';
import type { TraceEvent } from '../../trace/trace-events.js';

export const droppedExecutableRule: Rule = {
  id: 'dropped-executable',
  description: 'a file written, made executable and run',
  severity: 'critical',
  technique: 'droppers that write an ELF or script (often downloaded or base64-decoded), chmod +x it and run it (e.g. the 2022 "pymafka" Cobalt Strike dropper)',
  run(events, phase) {
    const written = new Map<string, TraceEvent>();
    const chmodded = new Map<string, TraceEvent>();
    const out: Finding[] = [];
    for (const e of events) {
      if (e.kind === 'file' && e.ok && (e.op === 'write' || e.op === 'create')) written.set(e.path, e);
      else if (e.kind === 'file' && e.ok && e.op === 'rename' && e.to && written.has(e.path)) written.set(e.to, written.get(e.path)!);
      else if (e.kind === 'file' && e.ok && e.op === 'chmod' && e.mode !== undefined && (e.mode & 0o111) && written.has(e.path)) chmodded.set(e.path, e);
      else if (e.kind === 'exec' && e.ok && written.has(e.path) && chmodded.has(e.path)) {
        out.push({
          rule: this.id, severity: 'critical', phase, title: `${phase} writes, marks executable and runs ${e.path}`,
          evidence: [ref(written.get(e.path)!, phase, `write ${e.path}`), ref(chmodded.get(e.path)!, phase, `chmod ${e.path}`), ref(e, phase, `exec ${e.path}`)],
        });
      }
    }
    return out;
  },
};
