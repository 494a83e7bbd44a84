/**
 * `pyti submit --zip FILE.zip` (one audit per project directory or distribution in the zip) and
 * `pyti submit --git URL --ref REF` (one audit of the ref's commit), each one submission: prints its id,
 * page and audits; with `--wait`, progress until every audit ends, then one line per audit (or the
 * git audit's report summary) and the worst exit code of its audits (4 malicious, 3 suspicious,
 * 2 error, 1 failed, 0 clean).
 */
import type { AuditDetail } from '../user-api.js';
import type { SubmissionView } from '../submissions/submission-store.js';
import { UsageError, clientFor, intFlag, type CliIO } from './cli-io.js';
import { finish, waitWithProgress } from './submit-command.js';
import { clean, exitCodeOf, toned } from './terminal-text.js';

const BACKEND = /^[a-z][a-z0-9-]{0,31}$/;

export interface SubmissionFlags {
  master?: string;
  token?: string;
  priority?: string;
  backend?: string;
  filename?: string;
  zip?: string;
  git?: string;
  ref?: string;
  wait?: boolean;
  json?: boolean;
}

function printSubmission(s: SubmissionView, url: string, io: CliIO): void {
  io.out(`${clean(s.id)}  ${s.kind} ${clean(s.name)}: ${s.counts.total} audits\n  page: ${url}\n`);
  for (const a of s.audits) io.out(`  ${clean(a.audit.id)}  ${clean(a.audit.project)} ${clean(a.audit.version)} ${a.audit.state}  (${clean(a.entry)})\n`);
}

/** Runs `pyti submit --zip|--git …`; resolves to the exit code. */
export async function submitSubmission(values: SubmissionFlags, io: CliIO): Promise<number> {
  if (values.zip !== undefined && values.git !== undefined) throw new UsageError('submit takes --zip or --git, not both');
  if (values.git !== undefined && !values.ref) throw new UsageError('--git needs --ref (a branch, a tag or a commit id)');
  if (values.ref !== undefined && values.git === undefined) throw new UsageError('--ref goes with --git URL');
  if (values.filename !== undefined) throw new UsageError('--filename picks a file of an index release (name==version)');
  const priority = intFlag('--priority', values.priority, -100, 100);
  if (values.backend !== undefined && !BACKEND.test(values.backend)) throw new UsageError(`--backend ${JSON.stringify(values.backend)} is not a backend name`);
  const client = clientFor(values, io, true);
  const sub = values.zip !== undefined
    ? await client.submitZip(values.zip, { priority, backend: values.backend })
    : await client.submitGit({ repo: values.git!, ref: values.ref!, priority, backend: values.backend });
  if (!values.wait) {
    if (values.json) io.out(`${JSON.stringify(sub, null, 1)}\n`);
    else printSubmission(sub, client.submissionUrl(sub.id), io);
    return 0;
  }
  io.err(`submitted ${sub.counts.total} audits as ${clean(sub.id)}: ${client.submissionUrl(sub.id)}\n`);
  if (sub.kind === 'git' && sub.audits.length === 1) {
    const final = await waitWithProgress(client, sub.audits[0]!.audit, io);
    return finish(client, final, io, values.json ?? false);
  }
  const finals: { entry: string; d: AuditDetail }[] = [];
  for (const a of sub.audits) finals.push({ entry: a.entry, d: await waitWithProgress(client, a.audit, io) });
  if (values.json) io.out(`${JSON.stringify(await client.submission(sub.id), null, 1)}\n`);
  else {
    for (const { entry, d } of finals) {
      io.out(`${toned(d, `${(d.verdict ?? d.state).toUpperCase().padEnd(10)} ${clean(d.project)} ${clean(d.version)}`, io.isTTY)}  ${clean(d.result ?? '')}  (${clean(entry)})\n`);
    }
    io.out(`  page: ${client.submissionUrl(sub.id)}\n`);
  }
  return finals.reduce((worst, f) => Math.max(worst, exitCodeOf(f.d)), 0);
}
