/**
 * `pyti master gc [--data DIR] [--dry-run] [--list] [--json] [--retention-max-age DUR]
 * [--retention-max-bytes SIZE] [--gc-grace DUR] [--retention-prune-flagged]`: deletes what the retention policy lets go from the
 * master's blob store (retention-gc.ts): with `--dry-run` it only prints what it would delete (counts and
 * bytes by kind; `--list`: every blob), else it deletes, with progress on stderr and a summary.
 * The policy comes from the same flags and environment as `pyti master` (PYTI_RETENTION_MAX_AGE, …).
 * Safe while the master runs: each deletion is re-checked in a database transaction (gc-run.ts).
 * Audits, reports and their artifact lists stay; pages say what was pruned.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { parseArgs } from 'node:util';
import { formatBytes } from '@pyti/common';
import { BlobStore } from '../blobs/blob-store.js';
import { loadMasterConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { DB_FILE } from '../http/master-app.js';
import { describeRetention } from './retention-config.js';
import { RetentionGc } from './retention-gc.js';
import { totalsByKind, type GcItem, type GcPlan } from './gc-plan.js';
import type { GcResult } from './gc-run.js';

export const GC_USAGE = `usage: pyti master gc [--data DIR] [--dry-run] [--list] [--json]
                      [--retention-max-age DUR] [--retention-max-bytes SIZE] [--gc-grace DUR] [--retention-prune-flagged]
  deletes what the retention policy lets go: blobs nothing references, and with a max age (30d) or a max
  total size (50G) the distributions and raw data of finished audits (least recently used first); never
  what a queued or running job needs, nor what was written within the grace period (default 1h), nor the
  evidence of audits judged malicious or suspicious (unless --retention-prune-flagged).
  Reports stay; an audit's page says its raw data was pruned.
  --dry-run: print what would be deleted and delete nothing; --list: one line per blob; --json: a JSON summary
  environment: PYTI_MASTER_DATA, PYTI_RETENTION_MAX_AGE, PYTI_RETENTION_MAX_BYTES, PYTI_GC_GRACE, PYTI_RETENTION_PRUNE_FLAGGED=1`;

type IO = { out(s: string): void; err(s: string): void };

function itemJson(i: GcItem) {
  return { kind: i.kind, reason: i.reason, name: i.name, sizeBytes: i.sizeBytes, lastUse: new Date(i.lastUseMs).toISOString() };
}

function itemLine(verb: string, i: GcItem): string {
  return `${verb} ${i.kind.padEnd(7)} ${i.name} ${formatBytes(i.sizeBytes).padStart(10)} last used ${new Date(i.lastUseMs).toISOString()} (${i.reason})\n`;
}

function kindTable(items: GcItem[]): string {
  return Object.entries(totalsByKind(items)).map(([k, t]) => `  ${k.padEnd(8)}${String(t.count).padStart(8)}  ${formatBytes(t.bytes).padStart(10)}\n`).join('');
}

function planHead(plan: GcPlan): string {
  return `blobs: ${plan.before.count} (${formatBytes(plan.before.bytes)}); `
    + `${plan.after.protectedByJobs} needed by queued or running jobs, ${plan.after.flagged} kept as evidence of flagged audits, ${plan.after.inGrace} within the grace period\n`;
}

/** Runs `pyti master gc …` (args after `gc`); resolves to the exit code (0; 2 when something could not be deleted). */
export async function runGcCommand(args: string[], io: IO, env: Record<string, string | undefined> = process.env): Promise<number> {
  const { values } = parseArgs({
    args, strict: true, allowPositionals: false,
    options: {
      data: { type: 'string' }, 'dry-run': { type: 'boolean' }, list: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      'retention-max-age': { type: 'string' }, 'retention-max-bytes': { type: 'string' }, 'gc-grace': { type: 'string' },
      'retention-prune-flagged': { type: 'boolean' },
    },
  });
  if (values.help) {
    io.out(`${GC_USAGE}\n`);
    return 0;
  }
  const config = loadMasterConfig({
    data: values.data, retentionMaxAge: values['retention-max-age'], retentionMaxBytes: values['retention-max-bytes'], gcGrace: values['gc-grace'],
    retentionPruneFlagged: values['retention-prune-flagged'],
  }, env);
  const policy = config.retention;
  if (!existsSync(join(config.dataDir, DB_FILE))) {
    throw new PytiError('PYTI_CONFIG_INVALID', `${values.data !== undefined ? '--data' : 'PYTI_MASTER_DATA'}: ${config.dataDir} holds no master database (${DB_FILE})`);
  }
  const db = openDatabase(join(config.dataDir, DB_FILE));
  try {
    const blobs = new BlobStore(join(config.dataDir, 'blobs'), join(config.dataDir, 'tmp'));
    const gc = new RetentionGc({ db, blobs, policy });
    if (!values.json) io.out(`policy: ${describeRetention(policy)}\n`);
    if (values['dry-run']) {
      const plan = await gc.plan();
      if (values.json) {
        io.out(`${JSON.stringify({ dryRun: true, policy, before: plan.before, after: plan.after, byKind: totalsByKind(plan.items), items: plan.items.map(itemJson) }, null, 1)}\n`);
        return 0;
      }
      io.out(planHead(plan));
      if (values.list) for (const i of plan.items) io.out(itemLine('would delete', i));
      io.out(`would delete ${plan.items.length} (${formatBytes(plan.items.reduce((s, i) => s + i.sizeBytes, 0))}), leaving ${plan.after.count} blobs (${formatBytes(plan.after.bytes)}):\n${kindTable(plan.items)}`);
      return 0;
    }
    let last = 0;
    const { plan, result } = await gc.collect((done, total, bytes) => {
      if (values.json) return;
      const t = Date.now();
      if (t - last < 1000 && done < total) return;
      last = t;
      io.err(`gc: ${done}/${total} checked, ${formatBytes(bytes)} deleted\n`);
    });
    return report(plan, result, io, !!values.json, !!values.list);
  } finally {
    db.close();
  }
}

function report(plan: GcPlan, result: GcResult, io: IO, json: boolean, list: boolean): number {
  const failed = result.skipped.filter((s) => !/^(job .* needs it|audit .* is flagged|a job named it during gc|re-used during gc|already gone)$/.test(s.why));
  if (json) {
    io.out(`${JSON.stringify({
      dryRun: false, before: plan.before, byKind: totalsByKind(result.deleted), deleted: result.deleted.map(itemJson),
      skipped: result.skipped.map((s) => ({ ...itemJson(s.item), why: s.why })),
    }, null, 1)}\n`);
    return failed.length ? 2 : 0;
  }
  io.out(planHead(plan));
  if (list) for (const i of result.deleted) io.out(itemLine('deleted', i));
  for (const s of result.skipped) io.out(`kept ${s.item.kind} ${s.item.name}: ${s.why}\n`);
  const bytes = result.deleted.reduce((s, i) => s + i.sizeBytes, 0);
  io.out(`deleted ${result.deleted.length} (${formatBytes(bytes)})${result.skipped.length ? `, kept ${result.skipped.length} planned (see above)` : ''}:\n${kindTable(result.deleted)}`);
  return failed.length ? 2 : 0;
}
