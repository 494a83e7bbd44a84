/**
 * The static scan as the report sees it: what `scanDistribution` (common/src/static/) read of the
 * distribution archive, host side and as data, and its findings (phase `static`, with `sources`).
 */
import type { Finding } from '../findings/finding.js';
import { scanDistribution } from '../static/index.js';

/** What a static scan returns: files and bytes read, whether it stopped at its caps, its findings. */
export interface StaticScanSummary {
  files: number;
  bytes: number;
  truncated: boolean;
  findings: Finding[];
}

/** Scans one distribution archive (the static module's `scanDistribution`). */
export type StaticScanner = (path: string) => Promise<StaticScanSummary>;

/** The static scanner (common/src/static/ `scanDistribution`); undefined would mean a build without one (callers allow for it). */
export async function loadStaticScanner(): Promise<StaticScanner | undefined> {
  return scanDistribution;
}
