/**
 * `pyti status [ID] [--state S] [--limit N] [--commit HEX] [--json]`: the audits as a table (`--commit`:
 * only the audits of git commits whose id starts with HEX, 7-40 hex digits), or one audit's detail.
 */
import { parseArgs } from 'node:util';
import type { AuditState } from '../user-api.js';
import { CONNECTION_OPTIONS, UsageError, clientFor, intFlag, type CliIO } from './cli-io.js';
import { auditDetailText, auditTable } from './status-format.js';

const STATES: readonly AuditState[] = ['queued', 'running', 'done', 'error', 'cancelled'];

export async function statusCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { ...CONNECTION_OPTIONS, state: { type: 'string' }, limit: { type: 'string' }, commit: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length > 1) throw new UsageError('status takes at most one audit id');
  const state = values.state as AuditState | undefined;
  if (state !== undefined && !STATES.includes(state)) throw new UsageError(`--state takes one of ${STATES.join(', ')}`);
  const limit = intFlag('--limit', values.limit, 1, 1000);
  const commit = values.commit;
  if (commit !== undefined && !/^[0-9A-Fa-f]{7,40}$/.test(commit)) throw new UsageError('--commit takes a commit id or a prefix of one: 7 to 40 hex digits');
  const client = clientFor(values, io, false);
  if (positionals.length === 1) {
    if (state !== undefined || limit !== undefined || commit !== undefined) throw new UsageError('--state, --limit and --commit list audits; they do not go with an id');
    const d = await client.get(positionals[0]!);
    io.out(values.json ? `${JSON.stringify(d, null, 1)}\n` : `${auditDetailText(d, client.pageUrl(d.id), io.isTTY)}\n`);
    return 0;
  }
  const audits = await client.list({ state, limit: limit ?? 50, ...(commit ? { commit: commit.toLowerCase() } : {}) });
  io.out(values.json ? `${JSON.stringify(audits, null, 1)}\n` : `${auditTable(audits, io.isTTY)}\n`);
  return 0;
}
