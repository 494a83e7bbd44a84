// `pyti diff` and `pyti status` with filters, in-process against a real master holding real reports.
import { main } from './main.js';
import { cliIO } from '../testing/cli-test-kit.js';
import { HistoryKit, KIT_USER_TOKEN, diffdemoReport, reportAs } from '../testing/history-kit.js';

let kit: HistoryKit;
const ids: Record<string, string> = {};
const run = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
  const io = cliIO();
  const code = await main([...args, '--master', kit.url, '--token', KIT_USER_TOKEN], io);
  return { code, out: io.stdout, err: io.stderr };
};

beforeAll(async () => {
  kit = await HistoryKit.start();
  ids.v10 = await kit.audit('diffdemo', '1.0', diffdemoReport('1.0'));
  ids.v11 = await kit.audit('diffdemo', '1.1', diffdemoReport('1.1'));
  const hostile = reportAs(diffdemoReport('1.1'), 'diffdemo', '1.2');
  hostile.traces.import!.dnsNames.push('\x1b]0;owned\x07evil.invalid');
  ids.v12 = await kit.audit('diffdemo', '1.2', hostile);
  ids.other = await kit.audit('other', '1.0', reportAs(diffdemoReport('1.0'), 'other', '1.0'));
});
afterAll(() => kit.close());

describe('pyti diff', () => {
  it('prints what is new between two audit ids: findings, DNS, network, tests', async () => {
    const r = await run('diff', ids.v10!, ids.v11!);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`from diffdemo 1.0 (diffdemo-1.0.tar.gz, audit ${ids.v10}): clean, pass`);
    expect(r.out).toContain('DNS names:\n  + import: diffdemo-beacon.invalid');
    expect(r.out).toContain('  + import: connect 127.0.0.1:9/tcp');
    expect(r.out).toContain('  new failure: tests/test_diffdemo.py::test_greet_strips');
    expect(r.out).toMatch(/^ {2}new high finding \[(network-attempt|dns-lookup)\]/m);
    expect((await run('diff', ids.v11!, ids.v11!)).out).toContain('nothing changed that PyTI observes');
  });

  it('takes a project and two versions, and prints JSON with --json', async () => {
    const r = await run('diff', 'DiffDemo', '1.0', '1.1', '--json');
    expect(r.code).toBe(0);
    const d = JSON.parse(r.out);
    expect([d.from.auditId, d.to.auditId]).toEqual([ids.v10, ids.v11]);
    expect(d.dns.added).toContainEqual({ phase: 'import', text: 'diffdemo-beacon.invalid' });
  });

  it('cleans control characters a package put in its traces', async () => {
    const r = await run('diff', ids.v11!, ids.v12!);
    expect(r.out).toContain('evil.invalid');
    expect(r.out).not.toContain('\x1b');
    expect(r.out).not.toContain('\x07');
  });

  it('exits 64 on usage errors and 2 with the code when an audit or version is unknown', async () => {
    expect((await run('diff', ids.v10!)).code).toBe(64);
    const unknown = await run('diff', ids.v10!, 'aNoSuchAudit');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('PYTI_JOB_NOT_FOUND');
    expect((await run('diff', 'diffdemo', '1.0', '9.9')).err).toContain('no finished audit of diffdemo 9.9');
  });
});

describe('pyti status filters', () => {
  it('lists only matching audits, with the matching total and the queue counts', async () => {
    const r = await run('status', '--verdict', 'flagged', '--search', 'demo');
    expect(r.code).toBe(0);
    const rows = r.out.split('\n').filter((l) => l.startsWith('a'));
    expect(rows.map((l) => l.split(/\s+/)[0]).sort()).toEqual([ids.v11, ids.v12].sort());
    expect(r.out).toContain('1-2 of 2 matching');
    expect(r.out).toContain('queue: 4 audits · 0 queued · 0 running · 4 done · 0 failed · 2 flagged');
    const page = await run('status', '--project', 'DIFFDEMO', '--limit', '1', '--offset', '1', '--json');
    expect(JSON.parse(page.out).map((a: { id: string }) => a.id)).toEqual([ids.v11]);
    expect(JSON.parse((await run('status', '--rule', 'dns-lookup', '--json')).out)).toHaveLength(2);
  });

  it('refuses bad filters: 64 for the CLI\'s own checks, the master\'s PYTI_USAGE for the rest', async () => {
    expect((await run('status', '--verdict', 'evil')).code).toBe(64);
    const since = await run('status', '--since', 'last-week');
    expect(since.code).toBe(64);
    expect(since.err).toContain('since: must be a date');
    expect((await run('status', ids.v10!, '--rule', 'x')).code).toBe(64);
  });
});
