/**
 * Static rules over a whole archive rather than one source file (each in its own file): they read
 * the distribution as data, after validateDist accepted it.
 */
import type { Finding, RuleInfo } from '../../findings/finding.js';
import { recordMismatchFindings, recordMismatchRule } from './record-mismatch.js';

/** Every archive rule's declaration. */
export const ARCHIVE_RULES: readonly RuleInfo[] = [recordMismatchRule];

/** The findings of every archive rule for the distribution at `path`. */
export async function archiveFindings(path: string): Promise<Finding[]> {
  return [...(await recordMismatchFindings(path))];
}
