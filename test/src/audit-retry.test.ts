/**
 * An audit whose sandbox dies under it (a real bubblewrap sandbox, killed from the host once its
 * first task has started) is an infrastructure failure, not the package's: the audit runs again on a
 * fresh sandbox, the report is the second attempt's, and it lists the failed attempt. With retries
 * turned off the same failure is the report's result.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditDistribution, BwrapBackend, type AuditProgress, type Backend, type SandboxInputs, type SandboxInstance } from '@pyti/slave';
import { type AuditReport } from '@pyti/common';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';

/** Bubblewrap, whose first `killed` sandboxes are ended from the host once a task has started. */
class KilledSandboxes implements Backend {
  readonly name = 'bwrap';
  private readonly real = new BwrapBackend();
  private current?: SandboxInstance;
  starts = 0;
  constructor(private killed: number) {}
  get capabilities(): Backend['capabilities'] {
    return this.real.capabilities;
  }
  probe(): Promise<string | null> {
    return this.real.probe();
  }
  async start(inputs: SandboxInputs): Promise<SandboxInstance> {
    this.starts++;
    this.current = await this.real.start(inputs);
    return this.current;
  }
  /** Called on progress: ends the sandbox of an attempt that is to die. */
  onProgress = (p: AuditProgress): void => {
    if (p.kind === 'task-started' && this.killed > 0 && this.current) {
      this.killed--;
      void this.current.dispose();
    }
  };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-retry-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function audit(backend: KilledSandboxes, name: string, infraRetries?: number): Promise<{ report: AuditReport; progress: AuditProgress[]; out: string }> {
  const progress: AuditProgress[] = [];
  const out = join(dir, name);
  const { report } = await auditDistribution({
    distPath: buildFixture('pyti-sample', 'sdist'), wheelhouse: makeWheelhouse(join(dir, `wh-${name}`), ['pyti-helper']), outDir: out,
    backend, infraRetries, onProgress: (p) => {
      progress.push(p);
      backend.onProgress(p);
    },
  });
  return { report, progress, out };
}

describe('an audit whose sandbox dies', () => {
  it('is run again on a fresh sandbox, and the report lists the failed attempt', async () => {
    const backend = new KilledSandboxes(1);
    const { report, progress, out } = await audit(backend, 'retried');
    expect(backend.starts).toBe(2);
    expect(report.result).toBe('pass');
    expect(report.tasks.every((t) => t.status === 'pass' || t.id === 'coverage')).toBe(true);
    expect(report.retried).toHaveLength(1);
    expect(report.retried![0]!.infraError).toMatchObject({ kind: 'error:sandbox', message: expect.any(String) });
    expect(report.retried![0]!.totalMs).toBeGreaterThan(0);
    expect(progress.filter((p) => p.kind === 'retrying')).toEqual([expect.objectContaining({ attempt: 1, infraError: expect.objectContaining({ kind: 'error:sandbox' }) })]);
    expect(progress.filter((p) => p.kind === 'sandbox-started')).toHaveLength(2);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('Retried after an infrastructure failure');
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).retried[0].infraError.kind).toBe('error:sandbox');
  }, 5 * 60 * 1000);

  it('ends as that infrastructure failure when it dies again, or when retries are off', async () => {
    const twice = new KilledSandboxes(2);
    const again = await audit(twice, 'twice');
    expect(twice.starts).toBe(2);
    expect(again.report).toMatchObject({ result: 'error:sandbox', verdict: 'error' });
    expect(again.report.retried).toHaveLength(1);

    const off = new KilledSandboxes(1);
    const { report } = await audit(off, 'off', 0);
    expect(off.starts).toBe(1);
    expect(report).toMatchObject({ result: 'error:sandbox', verdict: 'error' });
    expect(report.retried).toBeUndefined();
  }, 5 * 60 * 1000);
});
