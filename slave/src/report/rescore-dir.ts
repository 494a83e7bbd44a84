/**
 * `pyti rescore` on one report directory (what writeReport left: report.json, raw/<task>/<file>,
 * dist/<filename>): reads it, re-judges it with rescoreReport (a fresh static scan of the kept
 * distribution when its sha256 matches the report's), and writes report.json and report.html back.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { RAW_NAME } from '../guest-messages.js';
import { type AuditReport, type Verdict, renderHtml, rescoreReport, type RawData, loadStaticScanner } from '@pyti/common';

/** Largest report.json read (a stored report, possibly from an older slave). */
export const MAX_REPORT_JSON_BYTES = 64 * 1024 * 1024;
/** Largest raw file read back (the agent's own per-file cap is far below). */
export const MAX_RAW_FILE_BYTES = 512 * 1024 * 1024;

export interface RescoreDirOutcome {
  dir: string;
  before: { verdict: Verdict | string; score?: number };
  after: { verdict: Verdict; score: number };
  /** Whether the static rules were re-run (the kept distribution was there and matched). */
  staticRerun: boolean;
  report: AuditReport;
}

/** Reads raw/<task>/<file> under `dir` (plain names only, size-capped). */
export function readRawDir(dir: string): RawData {
  const raw: RawData = new Map();
  const root = join(dir, 'raw');
  if (!existsSync(root)) return raw;
  for (const task of readdirSync(root)) {
    if (!/^[a-z][a-z0-9-]*$/.test(task) || !statSync(join(root, task)).isDirectory()) continue;
    const files = new Map<string, Buffer>();
    for (const name of readdirSync(join(root, task))) {
      const p = join(root, task, name);
      const st = statSync(p);
      if (RAW_NAME.test(name) && st.isFile() && st.size <= MAX_RAW_FILE_BYTES) files.set(name, readFileSync(p));
    }
    raw.set(task, files);
  }
  return raw;
}

/** The kept copy of the distribution when it is there and its sha256 is the report's. */
export function keptDistribution(dir: string, report: AuditReport): string | undefined {
  const name = report.distribution?.filename;
  if (typeof name !== 'string' || !/^(?!\.)[^/\\\0]{1,255}$/.test(name)) return undefined;
  const p = join(dir, 'dist', name);
  if (!existsSync(p) || !statSync(p).isFile()) return undefined;
  const sha = createHash('sha256').update(readFileSync(p)).digest('hex');
  return sha === report.distribution.sha256 ? p : undefined;
}

/** Reads and checks `dir/report.json`. */
export function readReportJson(dir: string): AuditReport {
  const p = join(dir, 'report.json');
  if (!existsSync(p)) throw new PytiError('PYTI_REPORT_INVALID', `${dir}: no report.json`);
  if (statSync(p).size > MAX_REPORT_JSON_BYTES) throw new PytiError('PYTI_REPORT_INVALID', `${p}: larger than ${MAX_REPORT_JSON_BYTES} bytes`);
  let report: unknown;
  try {
    report = JSON.parse(readFileSync(p, 'utf8'));
  } catch (err) {
    throw new PytiError('PYTI_REPORT_INVALID', `${p}: not JSON: ${(err as Error).message}`);
  }
  const r = report as Partial<AuditReport>;
  if (typeof r !== 'object' || r === null || typeof r.result !== 'string' || typeof r.distribution !== 'object' || r.distribution === null || !Array.isArray(r.findings)) {
    throw new PytiError('PYTI_REPORT_INVALID', `${p}: not an audit report (result, distribution, findings)`);
  }
  return report as AuditReport;
}

/** Re-judges the report in `dir` and writes report.json and report.html back. */
export async function rescoreDir(dir: string): Promise<RescoreDirOutcome> {
  const report = readReportJson(dir);
  const distPath = keptDistribution(dir, report);
  const scan = distPath ? await loadStaticScanner() : undefined;
  const staticScan = scan && distPath ? await scan(distPath) : undefined;
  const after = rescoreReport(report, readRawDir(dir), staticScan);
  writeFileSync(join(dir, 'report.json'), JSON.stringify(after, null, 1));
  writeFileSync(join(dir, 'report.html'), renderHtml(after));
  return {
    dir, report: after, staticRerun: staticScan !== undefined,
    before: { verdict: report.verdict, score: typeof report.score === 'number' ? report.score : undefined },
    after: { verdict: after.verdict, score: after.score },
  };
}
