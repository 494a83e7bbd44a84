import { downloadMeter, parseAuditTarget } from './audit-target.js';

const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};
const none = (): boolean => false;

describe('pyti audit arguments', () => {
  it('tells names, pinned names, URLs and files apart', () => {
    expect(parseAuditTarget('idx-app', none)).toEqual({ kind: 'name', project: 'idx-app' });
    expect(parseAuditTarget('Idx_App==1.0', none)).toEqual({ kind: 'name', project: 'Idx_App', version: '1.0' });
    expect(parseAuditTarget('zope.interface == 6.0.post1', none)).toEqual({ kind: 'name', project: 'zope.interface', version: '6.0.post1' });
    expect(parseAuditTarget('./idx_app-1.0.tar.gz', none)).toEqual({ kind: 'file', path: './idx_app-1.0.tar.gz' });
    expect(parseAuditTarget('idx_app-1.0-py3-none-any.whl', none)).toEqual({ kind: 'file', path: 'idx_app-1.0-py3-none-any.whl' });
    expect(parseAuditTarget('notes', (p) => p === 'notes')).toEqual({ kind: 'file', path: 'notes' });
    const sha = 'AB'.repeat(32);
    expect(parseAuditTarget(`http://127.0.0.1:8080/packages/a/b/idx_app-1.0.tar.gz#sha256=${sha}`, none)).toEqual({
      kind: 'url', url: 'http://127.0.0.1:8080/packages/a/b/idx_app-1.0.tar.gz', filename: 'idx_app-1.0.tar.gz', sha256: sha.toLowerCase(),
    });
    expect(parseAuditTarget('https://files.example/p/idx%5Fapp-1.0.tar.gz#md5=00', none)).toEqual({
      kind: 'url', url: 'https://files.example/p/idx%5Fapp-1.0.tar.gz', filename: 'idx_app-1.0.tar.gz',
    });
  });

  it('refuses what it cannot audit: other specifiers, extras, bad URLs', () => {
    for (const a of ['idx-app>=1.0', 'idx-app[test]', 'idx-app==1.*', 'idx app', 'idx-app==1.0; python_version>"3"', '-x']) {
      expect([a, code(() => parseAuditTarget(a, none))]).toEqual([a, 'PYTI_USAGE']);
    }
    expect(code(() => parseAuditTarget('https://user:pw@h.example/x-1.0.tar.gz', none))).toBe('PYTI_USAGE');
    expect(code(() => parseAuditTarget('https://h.example/x-1.0.tar.gz#sha256=abc', none))).toBe('PYTI_USAGE');
    expect(code(() => parseAuditTarget('https://h.example/download?id=3', none))).toBe('PYTI_INPUT_NOT_ARCHIVE');
    expect(code(() => parseAuditTarget('https://h.example/..%2F..%2Fx-1.0.tar.gz', none))).toBe('PYTI_INPUT_NOT_ARCHIVE');
  });

  it('says how a download goes at most once a second or every 10 %', () => {
    const lines: string[] = [];
    let t = 0;
    const meter = downloadMeter('f.tar.gz', (l) => lines.push(l), () => t);
    for (let n = 1; n <= 100; n++) meter(n * 1024 * 1024, 100 * 1024 * 1024); // 100 chunks within the same instant
    expect(lines.length).toBe(9); // 10 %, 20 %, … 90 %; not the last chunk
    expect(lines[0]).toBe('downloading f.tar.gz: 10.0 MiB of 100.0 MiB (10 %)');
    lines.length = 0;
    const open = downloadMeter('g.whl', (l) => lines.push(l), () => t);
    for (let i = 1; i <= 50; i++) {
      t += 100;
      open(i * 1000, undefined);
    }
    expect(lines.length).toBe(5); // 5 s, no total: one a second
    expect(lines[0]).toBe('downloading g.whl: 9.8 KiB');
  });
});
