/**
 * End to end, in the real bubblewrap sandbox: a setup.py that resolves a name, fetches a second
 * stage over HTTP, writes it, makes it executable and runs it reaches the in-sandbox sinkhole, which
 * answers and records it; the trace shows the download written and executed. The phases without
 * the sinkhole (test) still have no network.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AuditOutcome } from '@pyti/slave';
import { sinkholeFindings } from '@pyti/common';
import { auditFixture, cleanupFixtureAudits } from './fixture-audit.js';

describe('the sinkhole network (bwrap)', () => {
  let out: AuditOutcome;
  beforeAll(async () => {
    out = await auditFixture('stage2-fetch');
  });
  afterAll(cleanupFixtureAudits);

  it('records the lookup and the HTTP request with its host, path and headers', () => {
    const net = out.report.network!;
    expect(net).toBeDefined();
    const dns = net.filter((r) => r.kind === 'dns' && r.dnsName === 'stage2.pyti-test.invalid');
    expect(dns.map((r) => r.dnsType)).toEqual(expect.arrayContaining(['A', 'AAAA']));
    expect(dns.every((r) => r.phase === 'build')).toBe(true);
    const http = net.find((r) => r.http)!;
    expect(http).toMatchObject({ phase: 'build', kind: 'tcp', address: '198.51.100.7', port: 80 });
    expect(http.http).toMatchObject({ method: 'GET', host: 'stage2.pyti-test.invalid', path: '/payload/stage2.sh?id=42' });
    expect(http.http!.headers).toEqual(expect.arrayContaining([['X-Pyti-Test', 'stage2']]));
    expect(http.bytesSent).toBeGreaterThan(100);
    // Each sinkhole phase sent its share of the log; the test task (no network) has none.
    expect(out.report.rawFiles).toEqual(expect.arrayContaining(['raw/build/sinkhole.jsonl', 'raw/install/sinkhole.jsonl', 'raw/import/sinkhole.jsonl']));
    expect(out.report.rawFiles).not.toContain('raw/test/sinkhole.jsonl');
    const html = readFileSync(join(out.outDir, 'report.html'), 'utf8');
    expect(html).toContain('What the package tried to reach and sent');
    expect(html).toContain('GET /payload/stage2.sh?id=42');
  });

  it('the trace shows the download written, made executable and run; the strace rules still see the destination', () => {
    const build = out.report.traces.build!;
    const file = build.files.find((f) => f.path === '/tmp/stage2.sh')!;
    expect(file.ops).toEqual(expect.arrayContaining(['create', 'chmod']));
    expect(build.processes.some((p) => p.exe === '/tmp/stage2.sh' && p.exitCode === 0)).toBe(true);
    expect(build.network.some((n) => n.address === '198.51.100.7' && n.port === 80 && n.ok)).toBe(true);
    expect(out.report.findings.some((f) => f.rule === 'dns-lookup' && f.title === 'build looks up stage2.pyti-test.invalid')).toBe(true);
    expect(sinkholeFindings(out.report.network!).find((f) => f.severity === 'high')!.title).toBe('build sends an HTTP GET to stage2.pyti-test.invalid (198.51.100.7:80)');
  });
});
