/** Audits a fixture package in the real sandbox, as `pyti audit` does, for the end-to-end tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditDistribution, BwrapBackend, type AuditOutcome } from '@pyti/slave';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';

const made: string[] = [];

/** Removes the audits' output directories (kept when PYTI_KEEP_TEST_OUTPUT is set, for a look). */
export function cleanupFixtureAudits(): void {
  if (process.env.PYTI_KEEP_TEST_OUTPUT) {
    if (made.length) process.stderr.write(`test output kept in:\n${made.join('\n')}\n`);
    return;
  }
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function auditFixture(name: string, opts: { wheelhouse?: string[]; kind?: 'sdist' | 'wheel'; perf?: boolean } = {}): Promise<AuditOutcome> {
  const dir = mkdtempSync(join(tmpdir(), `pyti-e2e-${name}-`));
  made.push(dir);
  const dist = buildFixture(name, opts.kind ?? 'sdist');
  return auditDistribution({
    distPath: dist,
    wheelhouse: makeWheelhouse(join(dir, 'wheels'), opts.wheelhouse ?? []),
    outDir: join(dir, 'out'),
    backend: new BwrapBackend(),
    parallel: 2,
    perf: opts.perf,
  });
}
