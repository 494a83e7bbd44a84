/**
 * The report side of git jobs: the report of a commit whose sdist did not build (a package failure,
 * `build-fail…`, reported as data like any other), and the source (repository, branch, commit) and
 * the build's log added to the report of a commit whose sdist was built and audited.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeReport } from '../audit.js';
import { REPORT_SCHEMA_VERSION, type AuditReport, type ReportSource, type ReportTask } from '@pyti/common';
import { PYTI_VERSION } from '../report/build-report.js';
import type { SdistBuildFailure } from './sdist-build.js';
import type { GitJobSource } from './source-archive.js';

/** The task name and raw-data directory of the sdist build in reports. */
export const SDIST_TASK = 'sdist';
/** The build log's name under `raw/sdist/`. */
export const SDIST_LOG = 'build.log';

/** The report's source block of a git job. */
export function reportSource(s: GitJobSource, buildMs: number, sdist?: string): ReportSource {
  return { kind: 'git', repo: s.repo, branch: s.branch, commit: s.commit, archiveSha256: s.archive.sha256, buildMs, ...(sdist ? { sdist } : {}) };
}

/** The name a git job's distribution goes by in a report when no sdist was built. */
export function archiveDisplayName(s: GitJobSource): string {
  return `${s.project}-${s.commit.slice(0, 12)}.tar.gz`;
}

/**
 * Writes the report of a commit whose sdist did not build into `outDir` (report.json, report.html,
 * raw/sdist/build.log): result `build-fail[:deps|:timeout]`, verdict `failed`, one task `sdist`.
 */
export function writeBuildFailReport(outDir: string, s: GitJobSource, failure: SdistBuildFailure, startedAt: Date): AuditReport {
  const task: ReportTask = {
    id: SDIST_TASK,
    title: 'Build the sdist from the commit (offline, in the sandbox)',
    failurePolicy: 'halt',
    status: failure.result === 'build-fail:timeout' ? 'timeout' : 'fail',
    reason: failure.reason,
    exitCode: failure.exitCode,
    durationMs: failure.durationMs,
    outputTail: failure.log.slice(-8000),
    rawFiles: [SDIST_LOG],
    ...(failure.result === 'build-fail:timeout' ? { limit: 'wall-clock' as const } : {}),
  };
  const report: AuditReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'pyti', version: PYTI_VERSION },
    source: reportSource(s, failure.durationMs),
    distribution: {
      filename: archiveDisplayName(s), name: s.project, version: s.commit, kind: 'sdist', sha256: s.archive.sha256, sizeBytes: s.archive.sizeBytes, requiresDist: [],
    },
    backend: { name: 'sdist-build', isolation: 'namespaces', network: 'none' },
    result: failure.result,
    verdict: 'failed',
    score: 0,
    scoreReasons: [],
    tasks: [task],
    traces: {},
    findings: [],
    timings: { startedAt: startedAt.toISOString(), totalMs: Date.now() - startedAt.getTime() },
    rawFiles: [`raw/${SDIST_TASK}/${SDIST_LOG}`],
  };
  writeReport(outDir, report, new Map([[SDIST_TASK, new Map([[SDIST_LOG, Buffer.from(failure.log)]])]]));
  return report;
}

/** Adds the source and the sdist build's log to the report in `outDir` written by auditDistribution, and renders it again. */
export function attachSource(outDir: string, source: ReportSource, buildLog: string): AuditReport {
  const report = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')) as AuditReport;
  report.source = source;
  const raw = new Map([[SDIST_TASK, new Map([[SDIST_LOG, Buffer.from(buildLog)]])]]);
  const name = `raw/${SDIST_TASK}/${SDIST_LOG}`;
  if (!report.rawFiles.includes(name)) report.rawFiles.push(name);
  writeReport(outDir, report, raw); // report.json and report.html again; the audit's raw data stays
  return report;
}
