/**
 * The slave's outbox: finished results on disk until the master has them, so that neither a master
 * restart nor a slave restart loses a finished audit.
 *
 *   <data>/outbox/<hash of the lease id>/report/       report.json, report.html, raw/<task>/<file>
 *   <data>/outbox/<hash of the lease id>/entry.json    { leaseId, jobId, outcome } (written last)
 *
 * An entry is complete once entry.json exists (written to a temporary name and renamed); a directory
 * without it is the remains of a crash and is removed. Sending an entry uploads every file under
 * `report/raw/` as a blob, then calls `jobs.complete`; the entry is removed when the master
 * acknowledges (`stored` true or false: a replay is acknowledged too) or refuses it for good
 * (`PYTI_LEASE_LOST`: the job was cancelled, or finished elsewhere; a malformed result). While the
 * master cannot be reached, does not know this slave yet or refuses its token, the entry stays and
 * is sent again later, also after a slave restart.
 *
 * Security: artifact names are built from the directory walk (no links followed), never from the
 * report's contents; the master checks them again.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { CommandError, type CallOptions, type CommandClient } from '../command/command-client.js';
import { COMMAND_LIMITS, CommandErrorCodes, type ArtifactRef, type JobOutcome, type PrefetchSummary } from '@pyti/common';

/** What an entry says about the job (the report itself is in `report/`). */
export interface OutboxEntry {
  leaseId: string;
  jobId: string;
  outcome:
    | { kind: 'report'; prefetch?: PrefetchSummary }
    | Extract<JobOutcome, { kind: 'error' }>;
}

/** How sending an entry ended. */
export type SendResult = 'stored' | 'replayed' | 'refused' | 'unreachable';

/** Files under `dir`, relative, regular files only (links and specials are skipped). */
export function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(...listFiles(p, `${prefix}${name}/`));
    else if (st.isFile()) out.push(`${prefix}${name}`);
  }
  return out;
}

export class Outbox {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'outbox');
    mkdirSync(this.dir, { recursive: true });
  }

  private entryDir(leaseId: string): string {
    return join(this.dir, createHash('sha256').update(leaseId).digest('hex').slice(0, 32));
  }

  /**
   * Puts a finished job in the outbox. `reportDir` (for a report) is moved into it: it must be on the
   * same file system as the data directory.
   */
  add(entry: OutboxEntry, reportDir?: string): void {
    const d = this.entryDir(entry.leaseId);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    if (reportDir) renameSync(reportDir, join(d, 'report'));
    const tmp = join(d, `entry.json.tmp-${randomUUID().slice(0, 8)}`);
    writeFileSync(tmp, JSON.stringify(entry));
    renameSync(tmp, join(d, 'entry.json'));
  }

  /** The complete entries, oldest first; removes the remains of interrupted writes. */
  entries(): (OutboxEntry & { dir: string })[] {
    const out: (OutboxEntry & { dir: string; mtime: number })[] = [];
    for (const name of readdirSync(this.dir)) {
      const d = join(this.dir, name);
      const f = join(d, 'entry.json');
      try {
        const e = JSON.parse(readFileSync(f, 'utf8')) as OutboxEntry;
        if (typeof e.leaseId !== 'string' || typeof e.jobId !== 'string' || typeof e.outcome !== 'object') throw new Error('bad entry');
        out.push({ ...e, dir: d, mtime: lstatSync(f).mtimeMs });
      } catch {
        rmSync(d, { recursive: true, force: true });
      }
    }
    return out.sort((a, b) => a.mtime - b.mtime).map(({ mtime: _m, ...e }) => e);
  }

  /** Lease ids with a result waiting. */
  leaseIds(): string[] {
    return this.entries().map((e) => e.leaseId);
  }

  /** Drops the entry of `leaseId` (a cancelled job). */
  remove(leaseId: string): void {
    rmSync(this.entryDir(leaseId), { recursive: true, force: true });
  }

  /** Uploads the entry's artifacts and completes its job; removes it unless the master was unreachable. */
  async send(entry: OutboxEntry & { dir: string }, client: CommandClient, options: CallOptions = {}): Promise<SendResult> {
    const { signal } = options;
    try {
      let outcome: JobOutcome;
      if (entry.outcome.kind === 'report') {
        const reportDir = join(entry.dir, 'report');
        const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')) as unknown;
        const artifacts: ArtifactRef[] = [];
        for (const rel of listFiles(join(reportDir, 'raw')).slice(0, COMMAND_LIMITS.maxArtifacts)) {
          const p = join(reportDir, 'raw', rel);
          const size = lstatSync(p).size;
          if (size > COMMAND_LIMITS.maxBlobBytes) continue;
          const sha256 = await client.putBlob(p, options);
          artifacts.push({ name: `raw/${rel}`, sha256, sizeBytes: size });
        }
        // The audited distribution (writeReport keeps it as dist/<filename>): the master's rescore re-runs the static rules on it.
        for (const rel of listFiles(join(reportDir, 'dist')).slice(0, 1)) {
          const p = join(reportDir, 'dist', rel);
          const size = lstatSync(p).size;
          if (size > COMMAND_LIMITS.maxBlobBytes || artifacts.length >= COMMAND_LIMITS.maxArtifacts) continue;
          artifacts.push({ name: `dist/${rel}`, sha256: await client.putBlob(p, options), sizeBytes: size });
        }
        outcome = { kind: 'report', report, artifacts, ...(entry.outcome.prefetch ? { prefetch: entry.outcome.prefetch } : {}) };
      } else {
        outcome = entry.outcome;
      }
      const r = await client.call('jobs.complete', { leaseId: entry.leaseId, outcome }, options);
      rmSync(entry.dir, { recursive: true, force: true });
      return r.stored ? 'stored' : 'replayed';
    } catch (err) {
      if (signal?.aborted) throw err;
      // Kept for later: the master is away, has forgotten this slave (re-registration follows), or refuses the token for now.
      if (err instanceof PytiError && (err.code === 'PYTI_MASTER_UNREACHABLE' || err.code === 'PYTI_AUTH')) return 'unreachable';
      if (err instanceof CommandError && err.rpcCode === CommandErrorCodes.notRegistered) return 'unreachable';
      // Refused for good (lease lost, a result the master will not take, a report we cannot read): drop it.
      rmSync(entry.dir, { recursive: true, force: true });
      return 'refused';
    }
  }
}
