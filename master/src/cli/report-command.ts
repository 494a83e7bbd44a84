/**
 * `pyti report ID [--json | --html] [--out DIR]`: the audit's report as the terminal summary, JSON or
 * HTML; `--out DIR` also saves report.json, report.html and every raw artifact (see save-report.ts).
 * Exit code like `pyti audit`: 0 clean, 1 failed, 2 no report (or an error verdict), 3 suspicious, 4 malicious.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { renderTerminal, type AuditReport } from '@pyti/common';
import { ERROR_CODES, PytiError, type ErrorCode } from '@pyti/vm-agent';
import { CONNECTION_OPTIONS, UsageError, clientFor, type CliIO } from './cli-io.js';
import { saveReport } from './save-report.js';
import { clean, cleanDeep, exitCodeOf } from './terminal-text.js';

/** Enough of an AuditReport to render it; the master's answer is checked, not trusted. */
function isReport(r: unknown): r is AuditReport {
  const x = r as Partial<AuditReport> | null;
  return !!x && typeof x === 'object' && typeof x.verdict === 'string' && typeof x.result === 'string' && !!x.distribution
    && typeof x.distribution === 'object' && Array.isArray(x.tasks) && Array.isArray(x.findings) && !!x.traces && typeof x.traces === 'object';
}

export async function reportCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { ...CONNECTION_OPTIONS, json: { type: 'boolean', default: false }, html: { type: 'boolean', default: false }, out: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('report takes exactly one audit id');
  if (values.json && values.html) throw new UsageError('--json and --html exclude each other');
  const client = clientFor(values, io, false);
  const id = positionals[0]!;
  const d = await client.get(id);
  if (d.state === 'error') {
    const code = d.error && d.error.code in ERROR_CODES ? (d.error.code as ErrorCode) : 'PYTI_ATTEMPTS_EXHAUSTED';
    const why = d.error ? `${d.error.message}${d.error.attempts.map((a) => `; attempt ${a.attempt}: ${a.reason}`).join('')}` : 'no reason given';
    throw new PytiError(code, `audit ${id} ended without a report: ${clean(why)}`);
  }
  if (d.state !== 'done') {
    throw new PytiError('PYTI_REPORT_NOT_READY', `audit ${id} is ${d.state}${d.state === 'cancelled' ? '' : `; wait with \`pyti status ${id}\` or submit with --wait`}`);
  }
  const report = await client.reportJson(id);
  if (!isReport(report)) throw new PytiError('PYTI_MASTER_UNREACHABLE', `the master's report for audit ${id} is not a PyTI report`);
  let html: string | undefined;
  if (values.html || values.out) html = await client.reportHtml(id);
  if (values.out) {
    const dir = resolve(values.out);
    const { written, pruned } = await saveReport(client, d, report, html!, dir);
    io.err(`saved ${written.length} files to ${dir}\n`);
    if (pruned.length) io.err(`not saved: ${pruned.length} raw file(s) the master's retention policy pruned (${clean(pruned.slice(0, 3).join(', '))}${pruned.length > 3 ? ', …' : ''})\n`);
  }
  if (values.json) io.out(`${JSON.stringify(report, null, 1)}\n`);
  else if (values.html) io.out(html!);
  else io.out(`${renderTerminal(cleanDeep(report), io.isTTY)}\n  page: ${client.pageUrl(id)}\n`);
  return exitCodeOf({ state: d.state, verdict: report.verdict });
}
