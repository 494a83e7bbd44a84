/** Conformance, rollback: what a job writes anywhere is gone in the next job on the same backend. */
import type { ConformanceSessions } from './conformance-sessions.js';
import { guestReport } from './guest-report.js';
import { outputOf } from './protocol-recorder.js';

export function rollbackChecks(s: ConformanceSessions): void {
  it('files a job wrote in /tmp, /work, the home directory and everywhere else writable are gone in the next job', async () => {
    const { rec } = await s.protocol();
    const { written } = guestReport<{ written: string[] }>(outputOf(rec, 'rollback-write'), 'rollback-write');
    const paths = rec.hello!.paths;
    for (const area of [paths.tmp, paths.work, paths.home]) expect(written.some((p) => p.startsWith(`${area}/`))).toBe(true);
    const { outcome } = await s.hostile();
    expect(outcome.run!.tasks.find((t) => t.id === 'rollback-check')!.status).toBe('pass');
    const check = guestReport<{ found: string[]; unknown: string[]; checked: number }>(outcome.output.get('rollback-check'), 'rollback-check');
    expect(check).toMatchObject({ found: [], unknown: [], checked: written.length });
  }, s.budgetMs('protocol', 'hostile'));
}
