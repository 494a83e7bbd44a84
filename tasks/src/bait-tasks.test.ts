import { readFileSync } from 'node:fs';
import { auditPlan } from './audit-tasks.js';
import { PROBE_CALLS, STRACE_ARGS, TRACED_FILE_CALLS } from './traced-calls.js';
import { WARM_STRACE_OPTIONS } from '@pyti/vm-agent';

const bait = { files: [{ path: '~/.ssh/id_rsa', contentBase64: 'eA==' }], canaries: [{ id: 'k', value: 'x'.repeat(20) }], env: { AWS_ACCESS_KEY_ID: 'AKIAX' } };

describe('bait tasks', () => {
  it('plant before the build and check after the package code ran, with the AWS pair in the traced tasks', () => {
    const plan = auditPlan({ distFile: 'x-1.tar.gz', bait });
    const ids = plan.tasks.map((t) => t.id);
    expect(ids[0]).toBe('bait');
    expect(plan.tasks.find((t) => t.id === 'build')!.dependsOn).toContain('bait');
    const check = plan.tasks.find((t) => t.id === 'bait-check')!;
    // Same lock as import/test/execute and later in plan order: it runs after them.
    expect(check.locks).toEqual(['package-home']);
    for (const id of ['import', 'test', 'execute']) if (ids.includes(id)) expect(ids.indexOf(id)).toBeLessThan(ids.indexOf('bait-check'));
    expect(plan.tasks.find((t) => t.id === 'import')!.env?.AWS_ACCESS_KEY_ID).toBe('AKIAX');
    expect(plan.tasks.find((t) => t.id === 'test')!.env?.AWS_ACCESS_KEY_ID).toBeUndefined();
    const spec = JSON.parse(Buffer.from(check.command[3]!, 'base64').toString()) as { canaries: unknown[] };
    expect(spec.canaries).toEqual(bait.canaries);
  });

  it('are absent without bait or when skipped', () => {
    expect(auditPlan({ distFile: 'x-1.tar.gz' }).tasks.some((t) => t.id.startsWith('bait'))).toBe(false);
    const plan = auditPlan({ distFile: 'x-1.tar.gz', bait, skip: ['bait'] });
    expect(plan.tasks.some((t) => t.id.startsWith('bait'))).toBe(false);
    expect(plan.tasks.find((t) => t.id === 'build')!.dependsOn).not.toContain('bait');
  });

  it('trace what pyti_common traces (the import task runs strace itself)', () => {
    const py = readFileSync(new URL('../guest/pyti_common.py', import.meta.url), 'utf8');
    const str = (name: string): string => {
      const m = new RegExp(`^${name} = (\\("[^)]*\\)|"[^"]*")`, 'm').exec(py);
      return m![1]!.replace(/^\(|\)$/g, '').replace(/"\s*"/g, '').replace(/"/g, '').replace(/\s+/g, '');
    };
    expect(str('TRACED_FILE_CALLS')).toBe(TRACED_FILE_CALLS);
    expect(str('PROBE_CALLS')).toBe(PROBE_CALLS);
    expect(auditPlan({ distFile: 'x-1.tar.gz' }).tasks.find((t) => t.id === 'import')!.command.slice(0, STRACE_ARGS.length)).toEqual([...STRACE_ARGS]);
  });

  it("trace in the guest's warm Python what a cold traced step traces (only -ff differs)", () => {
    expect(['strace', ...WARM_STRACE_OPTIONS.filter((o) => o !== '-ff')]).toEqual(STRACE_ARGS.map((a) => (a === '-f' ? undefined : a)).filter(Boolean));
  });
});
