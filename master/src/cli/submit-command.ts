/**
 * `pyti submit <file.tar.gz|file.whl> | <name>==<version> [--priority N] [--backend B] [--filename F] [--force] [--wait] [--json]`
 * Prints the audit's id and page (an earlier audit of the same file on the same backend is returned
 * and said so, unless `--force`); with `--wait`, progress on stderr until it ends, then the report's
 * terminal summary (or the audit as JSON) and `pyti audit`'s exit code.
 *
 * `pyti submit --zip FILE.zip` and `pyti submit --git URL --ref REF` make a submission (one audit per
 * project of the zip; one audit of the ref's commit): see submission-submit.ts.
 */
import { parseArgs } from 'node:util';
import { renderTerminal, type AuditReport } from '@pyti/common';
import type { AuditDetail, AuditSummary } from '../user-api.js';
import type { UserClient } from '../client/user-client.js';
import { CONNECTION_OPTIONS, UsageError, clientFor, intFlag, type CliIO } from './cli-io.js';
import { clean, cleanDeep, exitCodeOf, progressLine, toned } from './terminal-text.js';
import { submitSubmission } from './submission-submit.js';

const NAME_VERSION = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==([A-Za-z0-9][A-Za-z0-9.+!_-]*)$/;
const BACKEND = /^[a-z][a-z0-9-]{0,31}$/;

export async function submitCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      priority: { type: 'string' }, backend: { type: 'string' }, filename: { type: 'string' },
      wait: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, force: { type: 'boolean', default: false },
      zip: { type: 'string' }, git: { type: 'string' }, ref: { type: 'string' },
    },
  });
  if (values.zip !== undefined || values.git !== undefined || values.ref !== undefined) {
    if (positionals.length) throw new UsageError('--zip and --git take no other distribution or name==version');
    return submitSubmission(values, io);
  }
  if (positionals.length !== 1) throw new UsageError('submit takes exactly one distribution file or name==version');
  const target = positionals[0]!;
  const priority = intFlag('--priority', values.priority, -100, 100);
  if (values.backend !== undefined && !BACKEND.test(values.backend)) throw new UsageError(`--backend ${JSON.stringify(values.backend)} is not a backend name`);
  const byName = target.includes('==') ? NAME_VERSION.exec(target) : null;
  if (target.includes('==') && !byName) throw new UsageError(`${JSON.stringify(target)} is not name==version`);
  if (values.filename !== undefined && !byName) throw new UsageError('--filename picks a file of an index release (name==version)');
  const client = clientFor(values, io, true);
  const submitted = byName
    ? await client.submitByName({ project: byName[1]!, version: byName[2]!, filename: values.filename, priority, backend: values.backend, ...(values.force ? { force: true } : {}) })
    : await client.submitUpload(target, { priority, backend: values.backend, force: values.force });
  if (submitted.reused) {
    io.err(`already audited: ${clean(submitted.id)} is an audit of the same file on the same backend (${submitted.state}${submitted.verdict ? `, ${submitted.verdict}` : ''}); --force audits it again\n`);
  }
  if (!values.wait) {
    if (values.json) io.out(`${JSON.stringify(submitted, null, 1)}\n`);
    else io.out(`${clean(submitted.id)}\n  ${clean(submitted.project)} ${clean(submitted.version)} ${submitted.state}: ${client.pageUrl(submitted.id)}\n`);
    return 0;
  }
  io.err(`submitted ${clean(submitted.project)} ${clean(submitted.version)} as ${clean(submitted.id)}: ${client.pageUrl(submitted.id)}\n`);
  const final = await waitWithProgress(client, submitted, io);
  return finish(client, final, io, values.json);
}

/** Polls until the audit ends, printing a progress line on stderr whenever it changes. */
export async function waitWithProgress(client: UserClient, a: AuditSummary, io: CliIO): Promise<AuditDetail> {
  const t0 = Date.now();
  let last = '';
  return client.waitFor(a.id, {
    onProgress: (d) => {
      const line = progressLine(d);
      if (line === last) return;
      last = line;
      io.err(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
    },
  });
}

/** Prints how a finished audit went; resolves to the exit code. */
export async function finish(client: UserClient, d: AuditDetail, io: CliIO, json: boolean): Promise<number> {
  if (json) {
    io.out(`${JSON.stringify(d, null, 1)}\n`);
    return exitCodeOf(d);
  }
  if (d.state === 'done') {
    const report = cleanDeep(await client.reportJson(d.id)) as AuditReport;
    io.out(`${renderTerminal(report, io.isTTY)}\n  page: ${client.pageUrl(d.id)}\n`);
  } else {
    io.out(`${toned(d, `${d.state.toUpperCase()}  ${clean(d.project)} ${clean(d.version)}`, io.isTTY)}${d.error ? `  ${clean(d.error.code)}: ${clean(d.error.message)}` : ''}\n`);
    for (const at of d.error?.attempts ?? []) io.out(`  attempt ${at.attempt}: ${clean(at.reason)}\n`);
    io.out(`  page: ${client.pageUrl(d.id)}\n`);
  }
  return exitCodeOf(d);
}
