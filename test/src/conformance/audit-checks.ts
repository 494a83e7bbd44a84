/** Conformance, the real audit: every task kind passes on the bundled sample in this backend. */
import type { ConformanceSessions } from './conformance-sessions.js';

const TASK_KINDS = ['bait', 'inspect', 'build', 'install', 'import', 'test', 'execute', 'coverage', 'lint', 'style', 'bait-check'];

export function auditChecks(s: ConformanceSessions): void {
  const timeout = s.budgetMs('audit');

  it('audits pyti-sample (with pyti-helper in the wheelhouse): every task kind passes, the report is clean', async () => {
    const { report } = (await s.audit()).outcome;
    expect(report.infraError).toBeUndefined();
    expect(report.tasks.map((t) => [t.id, t.status])).toEqual(TASK_KINDS.map((id) => [id, 'pass']));
    expect(report).toMatchObject({ result: 'pass', verdict: 'clean', backend: expect.objectContaining({ name: s.backend.name }) });
    expect(report.tests).toMatchObject({ total: 4, passed: 4, failed: 0 });
    expect(report.coverage!.percent).toBeGreaterThan(80);
    expect(report.lint!.score).toBeGreaterThan(8);
    expect(report.style).toBeDefined();
    expect(report.install!.installed!.map((i) => i.name).sort()).toEqual(['pyti-helper', 'pyti-sample']);
    for (const phase of ['build', 'install', 'import'] as const) expect(report.traces[phase]!.counts.processes).toBeGreaterThan(0);
  }, timeout);

  it('the audit\'s sandbox ends and leaves no process behind', async () => {
    const a = await s.audit();
    expect(a.seen.length).toBeGreaterThan(0);
    expect(a.leftovers).toEqual([]);
    expect(a.exited).toBe(true);
  }, timeout);
}
