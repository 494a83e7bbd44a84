/**
 * Static evidence: a host-side scan of a distribution's source, read as data (never built, installed
 * or run), by GuardDog-style rules (`rules/<id>.ts`). Findings have phase `static`, no trace
 * evidence, and cite file and line in `sources`.
 */
import type { Finding } from '../findings/finding.js';
import { readDistribution, DEFAULT_READ_CAPS, type ReadCaps } from './read-archive.js';
import { scanSources } from './scan-sources.js';
import { archiveFindings } from './archive-rules/index.js';

export type { StaticRule, RuleHit, ScanContext } from './static-rule.js';
export { STATIC_RULES } from './rules/index.js';
export { scanSources, MAX_SOURCES, MAX_EXCERPT, type SourceText } from './scan-sources.js';
export { readDistribution, wantedMember, DEFAULT_READ_CAPS, type ReadCaps, type ReadResult } from './read-archive.js';
export { sourceFile, roleOf, type SourceFile, type FileRole } from './source-file.js';
export { ARCHIVE_RULES, archiveFindings } from './archive-rules/index.js';
export { parseRecord, type RecordRow } from './archive-rules/record-csv.js';

/** What a static scan read and found. */
export interface StaticScan {
  /** Files read (after the caps). */
  files: number;
  /** Bytes read. */
  bytes: number;
  /** A file was cut or files were left out at the caps (or the archive was corrupt part-way). */
  truncated: boolean;
  findings: Finding[];
}

/**
 * Scans the distribution at `path` (.tar.gz/.tgz sdist, .whl/.zip, or one .py) with the source rules
 * and the archive rules (a wheel's RECORD); throws PYTI_INPUT_NOT_FOUND/NOT_ARCHIVE.
 */
export async function scanDistribution(path: string, caps: ReadCaps = DEFAULT_READ_CAPS): Promise<StaticScan> {
  const r = await readDistribution(path, caps);
  return { files: r.files.length, bytes: r.bytes, truncated: r.truncated, findings: [...scanSources(r.files), ...(await archiveFindings(path))] };
}
