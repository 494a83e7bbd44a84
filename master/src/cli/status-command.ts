/**
 * `pyti status [ID] [filters] [--json]`: the audits as a table, or one audit's detail. The filters are
 * those of `GET /api/v1/audits` (search/audit-filter.ts): --state, --verdict (flagged: malicious or
 * suspicious), --result (a result or its family), --project, --search (project names containing it),
 * --subscription, --rule (a finding's rule id), --backend, --slave, --since / --until (YYYY-MM-DD or
 * ISO 8601), --commit (audits of git commits whose id starts with HEX), --limit and --offset. Under the
 * table: the rows shown of the matching total, and the whole queue's counts. `--json` prints the
 * audits shown (an array).
 */
import { parseArgs } from 'node:util';
import type { AuditState } from '../user-api.js';
import { CONNECTION_OPTIONS, UsageError, clientFor, intFlag, type CliIO } from './cli-io.js';
import { auditDetailText, auditTable } from './status-format.js';

const STATES: readonly AuditState[] = ['queued', 'running', 'done', 'error', 'cancelled'];
const VERDICTS = ['malicious', 'suspicious', 'clean', 'failed', 'error', 'flagged'];
/** CLI flag → query-string field (checked by the master, which names a bad one). */
const FILTER_FLAGS = {
  result: 'result', project: 'project', search: 'q', subscription: 'subscription', rule: 'rule', backend: 'backend', slave: 'slave', since: 'since', until: 'until',
} as const;

export async function statusCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS, state: { type: 'string' }, verdict: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' }, commit: { type: 'string' },
      ...Object.fromEntries(Object.keys(FILTER_FLAGS).map((k) => [k, { type: 'string' as const }])),
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length > 1) throw new UsageError('status takes at most one audit id');
  const v = values as Record<string, string | boolean | undefined>;
  const state = values.state as AuditState | undefined;
  if (state !== undefined && !STATES.includes(state)) throw new UsageError(`--state takes one of ${STATES.join(', ')}`);
  const verdict = values.verdict;
  if (verdict !== undefined && !VERDICTS.includes(verdict)) throw new UsageError(`--verdict takes one of ${VERDICTS.join(', ')}`);
  const limit = intFlag('--limit', values.limit, 1, 500);
  const offset = intFlag('--offset', values.offset, 0, 1_000_000);
  const commit = values.commit;
  if (commit !== undefined && !/^[0-9A-Fa-f]{7,40}$/.test(commit)) throw new UsageError('--commit takes a commit id or a prefix of one: 7 to 40 hex digits');
  const filters: Record<string, string> = {};
  for (const [flag, field] of Object.entries(FILTER_FLAGS)) if (typeof v[flag] === 'string') filters[field] = v[flag] as string;
  const client = clientFor(values, io, false);
  if (positionals.length === 1) {
    if (state !== undefined || verdict !== undefined || limit !== undefined || offset !== undefined || commit !== undefined || Object.keys(filters).length) {
      throw new UsageError('filters, --limit and --offset list audits; they do not go with an id');
    }
    const d = await client.get(positionals[0]!);
    io.out(values.json ? `${JSON.stringify(d, null, 1)}\n` : `${auditDetailText(d, client.pageUrl(d.id), io.isTTY)}\n`);
    return 0;
  }
  const page = await client.listPage({
    ...filters, ...(state ? { state } : {}), ...(verdict ? { verdict } : {}), limit: String(limit ?? 50),
    ...(offset ? { offset: String(offset) } : {}), ...(commit ? { commit: commit.toLowerCase() } : {}),
  });
  if (values.json) {
    io.out(`${JSON.stringify(page.audits, null, 1)}\n`);
    return 0;
  }
  const from = offset ?? 0;
  const footer = page.total !== undefined ? `\n${page.audits.length ? `${from + 1}-${from + page.audits.length}` : '0'} of ${page.total} matching` : '';
  const c = page.counts;
  const queue = c ? `\nqueue: ${c.total} audits · ${c.queued} queued · ${c.running} running · ${c.done} done · ${c.failed} failed · ${c.flagged} flagged` : '';
  io.out(`${auditTable(page.audits, io.isTTY)}${footer}${queue}\n`);
  return 0;
}
