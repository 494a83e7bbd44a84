/** Audits a fixture package in the real sandbox, as `pyti audit` does, for the end-to-end tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditDistribution, BwrapBackend, type AuditOutcome } from '@pyti/slave';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';

export async function auditFixture(name: string, opts: { wheelhouse?: string[]; kind?: 'sdist' | 'wheel' } = {}): Promise<AuditOutcome> {
  const dir = mkdtempSync(join(tmpdir(), `pyti-e2e-${name}-`));
  const dist = buildFixture(name, opts.kind ?? 'sdist');
  return auditDistribution({
    distPath: dist,
    wheelhouse: makeWheelhouse(join(dir, 'wheels'), opts.wheelhouse ?? []),
    outDir: join(dir, 'out'),
    backend: new BwrapBackend(),
    parallel: 2,
  });
}
