/** Audits a fixture package in the real sandbox, as `pyti audit` does, for the end-to-end tests. */
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
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

export async function auditFixture(name: string, opts: { wheelhouse?: string[]; kind?: 'sdist' | 'wheel'; perf?: boolean; mode?: number } = {}): Promise<AuditOutcome> {
  const dir = mkdtempSync(join(tmpdir(), `pyti-e2e-${name}-`));
  made.push(dir);
  let dist = buildFixture(name, opts.kind ?? 'sdist');
  if (opts.mode !== undefined) {
    // A copy with the mode asked for (the fixture's cached build stays as it is).
    const copy = join(dir, basename(dist));
    copyFileSync(dist, copy);
    chmodSync(copy, opts.mode);
    dist = copy;
  }
  return auditDistribution({
    distPath: dist,
    wheelhouse: makeWheelhouse(join(dir, 'wheels'), opts.wheelhouse ?? []),
    outDir: join(dir, 'out'),
    backend: new BwrapBackend(),
    parallel: 2,
    perf: opts.perf,
  });
}
