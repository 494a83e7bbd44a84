/**
 * The static scan as the report sees it: what `scanDistribution` (slave/src/static/) read of the
 * distribution archive, host side and as data, and its findings (phase `static`, with `sources`).
 */
import type { Finding } from '../findings/finding.js';

/** What a static scan returns: files and bytes read, whether it stopped at its caps, its findings. */
export interface StaticScanSummary {
  files: number;
  bytes: number;
  truncated: boolean;
  findings: Finding[];
}

/** Scans one distribution archive (the static module's `scanDistribution`). */
export type StaticScanner = (path: string) => Promise<StaticScanSummary>;

/** The static module's entry, loaded when it is there (it is written beside this one). */
const STATIC_MODULE = '../static/index.js';

/** The static scanner, or undefined when this build has none. */
export async function loadStaticScanner(): Promise<StaticScanner | undefined> {
  try {
    const mod = (await import(STATIC_MODULE)) as { scanDistribution?: StaticScanner };
    return typeof mod.scanDistribution === 'function' ? mod.scanDistribution : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}
