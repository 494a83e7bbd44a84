/**
 * What the master does when a report is stored: a malicious verdict on a file of the index queues
 * one observation for it (once per file), built from the job's own project, version and file (not
 * the slave's claims) and the master's score and reasons. Git commits are not on the index: skipped.
 */
import { observationFor, type ScoreReason } from '@pyti/common';
import type { JobRow } from '../queue/job-rows.js';
import type { ReportOutcome } from '../queue/job-queue.js';
import type { ObservationStore } from './observation-store.js';

/** Queues the observation for `job` when its stored report is malicious; true when one was queued. */
export function queueObservation(store: ObservationStore, job: JobRow, outcome: ReportOutcome, now: number): boolean {
  if (outcome.verdict !== 'malicious' || job.source_kind === 'git') return false;
  let report: { scoreReasons?: ScoreReason[]; distribution?: { filename?: unknown; sha256?: unknown } };
  try {
    report = JSON.parse(outcome.reportJson) as typeof report;
  } catch {
    return false;
  }
  const filename = job.filename ?? (typeof report.distribution?.filename === 'string' ? report.distribution.filename.slice(0, 300) : null);
  if (!filename) return false;
  const sha256 = job.upload_sha256 ?? (typeof report.distribution?.sha256 === 'string' ? report.distribution.sha256.slice(0, 64) : '');
  const body = observationFor({ name: job.project, version: job.version, filename, sha256 }, outcome.score, Array.isArray(report.scoreReasons) ? report.scoreReasons : []);
  return store.enqueue(job.seq, { project: job.project, version: job.version, filename }, body, now);
}
