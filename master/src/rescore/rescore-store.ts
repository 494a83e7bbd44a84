/**
 * Re-judges every stored audit with the current rules (`pyti master rescore`): for each done job,
 * its report's phase traces are read back from the blob store (the `raw/<task>/<file>` artifacts),
 * the rules re-run, the static rules too when the distribution is there (a `dist/<filename>`
 * artifact, or an uploaded file's blob) and hashes to the report's sha256, and the verdict and score
 * recomputed (rescoreReport, as `pyti rescore` does locally). The stored report, the job's verdict,
 * score and findings count are updated; a new malicious verdict queues an observation when the
 * master reports to the index.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStaticScanner, rescoreReport, type AuditReport, type RawData, type StaticScanSummary } from '@pyti/common';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Db } from '../db/database.js';
import type { JobRow } from '../queue/job-rows.js';
import { queueObservation } from '../observations/observation-hook.js';
import type { ObservationStore } from '../observations/observation-store.js';

/** Largest raw artifact read back for rescoring. */
export const MAX_RESCORE_ARTIFACT_BYTES = 512 * 1024 * 1024;

/** What rescoring one audit changed. */
export interface RescoredAudit {
  id: string;
  project: string;
  version: string;
  before: { verdict: string | null; score: number | null };
  after: { verdict: string; score: number };
  staticRerun: boolean;
  /** Why the audit could not be rescored (its report is unreadable); then `after` is `before`. */
  error?: string;
}

export interface RescoreAllOptions {
  db: Db;
  blobs: BlobStore;
  /** Given when the master reports to the index: new malicious verdicts queue an observation. */
  observations?: ObservationStore;
  now: number;
  onAudit?: (r: RescoredAudit, done: number, total: number) => void;
}

const RAW_ARTIFACT = /^raw\/([a-z][a-z0-9-]*)\/([A-Za-z0-9][A-Za-z0-9._-]{0,99})$/;

/** The raw data of one job from its artifacts' blobs. */
function rawOf(artifacts: { name: string; sha256: string; size: number }[], blobs: BlobStore): RawData {
  const raw: RawData = new Map();
  for (const a of artifacts) {
    const m = RAW_ARTIFACT.exec(a.name);
    if (!m || a.size > MAX_RESCORE_ARTIFACT_BYTES || !blobs.has(a.sha256)) continue;
    if (!raw.has(m[1]!)) raw.set(m[1]!, new Map());
    raw.get(m[1]!)!.set(m[2]!, readFileSync(blobs.pathOf(a.sha256)));
  }
  return raw;
}

/** The blob holding the audited distribution, if the master has it and it is the report's file. */
function distBlob(job: JobRow, report: AuditReport, artifacts: { name: string; sha256: string }[], blobs: BlobStore): string | undefined {
  const want = report.distribution?.sha256;
  const candidates = [
    ...artifacts.filter((a) => a.name === `dist/${report.distribution?.filename}`).map((a) => a.sha256),
    ...(job.source_kind === 'upload' && job.upload_sha256 ? [job.upload_sha256] : []),
  ];
  for (const sha of candidates) {
    if (sha === want && blobs.has(sha)) {
      const p = blobs.pathOf(sha);
      if (createHash('sha256').update(readFileSync(p)).digest('hex') === want) return p;
    }
  }
  return undefined;
}

/** Runs the static scanner over a blob under the distribution's own file name (scanners go by the name). */
async function scanBlob(path: string, filename: string): Promise<StaticScanSummary | undefined> {
  const scan = await loadStaticScanner();
  if (!scan || !/^(?!\.)[^/\\\0]{1,255}$/.test(filename) || statSync(path).size > MAX_RESCORE_ARTIFACT_BYTES) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'pyti-rescore-'));
  try {
    copyFileSync(path, join(dir, filename));
    return await scan(join(dir, filename));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rescores every done audit, oldest first; resolves to what changed for each. */
export async function rescoreAll(o: RescoreAllOptions): Promise<RescoredAudit[]> {
  const jobs = o.db.prepare(`SELECT j.*, r.report AS report_json FROM jobs j JOIN reports r ON r.job_seq = j.seq WHERE j.state = 'done' ORDER BY j.seq`).all() as (JobRow & { report_json: string })[];
  const artifactsOf = o.db.prepare('SELECT name, sha256, size FROM artifacts WHERE job_seq = ?');
  const store = o.db.prepare('UPDATE reports SET report = ? WHERE job_seq = ?');
  const judge = o.db.prepare('UPDATE jobs SET verdict = @verdict, score = @score, findings = @findings WHERE seq = @seq');
  const out: RescoredAudit[] = [];
  for (const [i, job] of jobs.entries()) {
    const before = { verdict: job.verdict, score: job.score ?? null };
    let r: RescoredAudit;
    try {
      const report = JSON.parse(job.report_json) as AuditReport;
      if (typeof report !== 'object' || report === null || typeof report.result !== 'string' || !Array.isArray(report.findings)) throw new Error('not an audit report');
      const artifacts = artifactsOf.all(job.seq) as { name: string; sha256: string; size: number }[];
      const dist = distBlob(job, report, artifacts, o.blobs);
      const staticScan = dist ? await scanBlob(dist, report.distribution.filename) : undefined;
      const after = rescoreReport(report, rawOf(artifacts, o.blobs), staticScan);
      const reportJson = JSON.stringify(after);
      const findings = after.findings.filter((f) => f.severity !== 'info').length;
      o.db.transaction(() => {
        store.run(reportJson, job.seq);
        judge.run({ verdict: after.verdict, score: after.score, findings, seq: job.seq });
        if (o.observations) {
          queueObservation(o.observations, job, { kind: 'report', reportJson, verdict: after.verdict, score: after.score, result: after.result, findings, artifacts: [] }, o.now);
        }
      })();
      r = { id: job.id, project: job.project, version: job.version, before, after: { verdict: after.verdict, score: after.score }, staticRerun: staticScan !== undefined };
    } catch (err) {
      r = { id: job.id, project: job.project, version: job.version, before, after: { verdict: job.verdict ?? 'error', score: job.score ?? 0 }, staticRerun: false, error: (err as Error).message };
    }
    out.push(r);
    o.onAudit?.(r, i + 1, jobs.length);
  }
  return out;
}
