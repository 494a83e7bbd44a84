/**
 * The observation a malicious verdict reports to the index: the body PyPI's observations API takes
 * (`POST /danger-api/projects/{name}/observations`, bearer token; `inspector_url` is required for
 * `is_malware` and must start with `https://inspector.pypi.io/project/`).
 */
import type { ScoreReason } from '../findings/judge.js';

/** The JSON body of one observation. */
export interface IndexObservation {
  kind: 'is_malware';
  summary: string;
  inspector_url: string;
}

/** Longest summary sent (the API gives no limit; a reviewer reads it). */
export const OBSERVATION_SUMMARY_MAX = 2000;

/** The inspector page of one release: `https://inspector.pypi.io/project/<name>/<version>/`. */
export function inspectorUrl(name: string, version: string): string {
  return `https://inspector.pypi.io/project/${encodeURIComponent(name)}/${encodeURIComponent(version)}/`;
}

/** The observation for a release judged malicious, from its file, score and the reasons that earned it. */
export function observationFor(
  dist: { name: string; version: string; filename: string; sha256: string },
  score: number,
  reasons: readonly ScoreReason[],
): IndexObservation {
  const top = reasons.slice(0, 5).map((r) => `[${r.severity}] ${r.title}`).join('; ');
  const summary = `PyTI (dynamic audit under strace, network-isolated sandbox) judged ${dist.filename} (sha256 ${dist.sha256}) malicious, score ${score}: ${top}`;
  return { kind: 'is_malware', summary: summary.slice(0, OBSERVATION_SUMMARY_MAX), inspector_url: inspectorUrl(dist.name, dist.version) };
}
