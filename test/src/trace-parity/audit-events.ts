/**
 * The package-caused events of every traced phase of one written audit (its outDir's raw traces),
 * keyed as package-events.ts says, judged against the guest paths its report states.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_GUEST_PATHS, parseStrace, PHASE_TRACES, PHASES, type AuditReport, type Phase } from '@pyti/common';
import { packageEvents, type PackageEvents, type ParityPaths } from './package-events.js';

/** The guest paths of a report (the agent's defaults when it states none). */
export function parityPaths(report: AuditReport): ParityPaths {
  const p = report.guest?.paths;
  return { home: p?.home ?? DEFAULT_GUEST_PATHS.home, homeAliases: p?.homeAliases ?? [], work: p?.work ?? DEFAULT_GUEST_PATHS.work, tmp: p?.tmp ?? DEFAULT_GUEST_PATHS.tmp };
}

/** Each phase's package-caused events, for the phases whose trace the audit left in `outDir/raw`. */
export function auditPackageEvents(outDir: string, report: AuditReport): Map<Phase, PackageEvents> {
  const paths = parityPaths(report);
  const out = new Map<Phase, PackageEvents>();
  for (const phase of PHASES) {
    const [task, file] = PHASE_TRACES[phase];
    const at = join(outDir, 'raw', task, file);
    if (!existsSync(at)) continue;
    out.set(phase, packageEvents(phase, parseStrace(readFileSync(at)).events, paths));
  }
  return out;
}
