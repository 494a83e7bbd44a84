/** `pyti status` output: a table of audits, or one audit's detail (plain text, cleaned of control characters). */
import { durationText } from '../web/duration-text.js';
import type { AuditDetail, AuditSummary } from '../user-api.js';
import { auditCells } from '../web/audit-row-model.js';
import { clean, toned } from './terminal-text.js';

const HEAD = ['ID', 'STATE', 'VERDICT', 'RESULT', 'FINDINGS', 'PROJECT', 'VERSION', 'BACKEND', 'SLAVE', 'SUBMITTED', 'TIME', 'PROGRESS'];

/** Column-aligned table of audits, newest first as given; rows coloured red/green when `color`. */
export function auditTable(audits: AuditSummary[], color: boolean, now = Date.now()): string {
  if (!audits.length) return 'no audits';
  const rows = audits.map((a) => {
    const c = auditCells(a, now).map((x) => clean(x.t));
    // project version source backend state verdict result findings slave submitted time progress
    return [clean(a.id), c[4]!, c[5]!, c[6]!, c[7]!, c[0]!, c[1]!, c[3]!, c[8]!, c[9]!, c[10]!, c[11]!];
  });
  const widths = HEAD.map((h, i) => Math.min(40, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (r: string[]): string => r.map((v, i) => (v.length > widths[i]! ? `${v.slice(0, widths[i]! - 1)}…` : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(HEAD), ...rows.map((r, i) => toned(audits[i]!, line(r), color))].join('\n');
}

const mib = (n: number): string => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

/** Several lines about one audit. */
export function auditDetailText(d: AuditDetail, pageUrl: string, color: boolean, now = Date.now()): string {
  const c = auditCells(d, now).map((x) => clean(x.t));
  const label = d.state === 'done' ? `${d.state}, ${d.verdict ?? '?'}` : d.state;
  const out = [toned(d, `${clean(d.project)} ${clean(d.version)}  ${label.toUpperCase()}${d.result ? `  result ${clean(d.result)}` : ''}${d.findings !== null ? `  findings ${d.findings}` : ''}`, color)];
  const kv = (k: string, v: string): void => { if (v) out.push(`  ${k.padEnd(10)} ${v}`); };
  kv('id', clean(d.id));
  kv('source', c[2]!);
  if (d.git) {
    kv('repo', clean(d.git.repo));
    kv('branch', clean(d.git.branch));
    kv('commit', clean(d.git.commit));
  }
  kv('backend', `${clean(d.backend)}  priority ${d.priority}  attempts ${d.attempts}/${d.maxAttempts}`);
  kv('slave', c[8]!);
  kv('times', `submitted ${c[9]}${d.startedAt ? `, started ${clean(d.startedAt)}` : ''}${d.finishedAt ? `, finished ${clean(d.finishedAt)}` : ''}${c[10] ? ` (${c[10]})` : ''}`);
  const lat = d.verdictLatency;
  if (lat && lat.ms !== null) kv('latency', `${durationText(lat.ms)} upload to verdict (from ${lat.from === 'upload' ? `the index's upload at ${clean(lat.since)}` : 'the submission'})`);
    if (d.state === 'running' || d.state === 'queued') kv('progress', c[11]!);
  if (d.error) {
    kv('error', `${clean(d.error.code)}: ${clean(d.error.message)}`);
    for (const a of d.error.attempts) out.push(`    attempt ${a.attempt}: ${clean(a.reason)}`);
  }
  if (d.prefetch) kv('prefetch', `${d.prefetch.wheels.length} wheels, ${d.prefetch.downloaded} downloaded, in ${(d.prefetch.durationMs / 1000).toFixed(1)} s${d.prefetch.error ? `; pip failed: ${clean(d.prefetch.error).slice(0, 300)}` : ''}`);
  const tr = d.prefetch?.testRequirements;
  if (tr) kv('test deps', `${tr.requirements.length} resolved${tr.relaxed?.length ? ` (relaxed: ${tr.relaxed.map((x) => clean(x.requirement)).join(', ').slice(0, 300)})` : ''}${tr.unresolved.length ? `; unresolved: ${tr.unresolved.map((u) => clean(u.requirement)).join(', ').slice(0, 300)}` : ''}`);
  if (d.artifacts.length) kv('artifacts', `${d.artifacts.length} files, ${mib(d.artifacts.reduce((s, a) => s + a.sizeBytes, 0))}`);
  for (const e of d.events.slice(-5)) out.push(`    ${clean(e.at)} ${clean(e.kind)}: ${clean(e.text).slice(0, 200)}`);
  kv('page', pageUrl);
  return out.join('\n');
}
