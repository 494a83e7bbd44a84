import { parseSinkholeLog, SINKHOLE_LIMITS } from './parse-sinkhole.js';
import { collectNetwork } from './collect-network.js';
import { networkSection, payloadPreview, sinkholeFindings } from '@pyti/common';
import type { Plan, TaskSpec } from '@pyti/vm-agent';

// Lines captured from real runs of tasks/guest/sinkhole.py in the bwrap sandbox: the stage2-fetch
// fixture's build (DNS, HTTP GET) and a probe script (TLS, raw TCP over IPv6, UDP, HTTP POST).
const CAPTURED = [
  '{"kind":"dns","time":1796186525.83031,"address":"127.0.0.1","port":53,"dnsName":"stage2.pyti-test.invalid","dnsType":"A","bytesSent":42}',
  '{"kind":"dns","time":1796186525.8310475,"address":"127.0.0.1","port":53,"dnsName":"stage2.pyti-test.invalid","dnsType":"AAAA","bytesSent":42}',
  '{"kind":"tcp","time":1796186525.8469343,"address":"198.51.100.7","port":80,"bytesSent":172,"http":{"method":"GET","path":"/payload/stage2.sh?id=42","headers":[["Accept-Encoding","identity"],["Host","stage2.pyti-test.invalid"],["User-Agent","Python-urllib/3.11"],["X-Pyti-Test","stage2"],["Connection","close"]],"host":"stage2.pyti-test.invalid"}}',
  '{"kind":"tcp","time":1796186236.8724484,"address":"198.51.100.7","port":80,"bytesSent":228,"http":{"method":"POST","path":"/x/payload.sh?a=1","headers":[["Accept-Encoding","identity"],["Content-Type","application/x-www-form-urlencoded"],["Content-Length","14"],["Host","stage2.pyti-test.invalid"],["User-Agent","Python-urllib/3.11"],["Connection","close"]],"host":"stage2.pyti-test.invalid"},"payloadBase64":"c2VjcmV0PWh1bnRlcjI="}',
  '{"kind":"tcp","time":1796186236.904187,"address":"198.51.100.7","port":443,"bytesSent":517,"sni":"evil.example.invalid","payloadBase64":"FgMBAgABAAH8AwM3FKYaIz/2pHOCgmTex19xrG1YolzX7ukIwj+DXLy0eCDDGctER8ezd/hPoLX/T0pbabzsX/3n03kHv+QsgV9kAAA+"}',
  '{"kind":"tcp","time":1796186236.9050426,"address":"2001:db8::99","port":6667,"bytesSent":8,"payloadBase64":"TklDSyB4DQo="}',
  '{"kind":"udp","time":1796186236.9055583,"address":"203.0.113.5","port":9999,"bytesSent":4,"payloadBase64":"cGluZw=="}',
  '{"ctl":"flushed","id":"f1","suppressed":0}',
].join('\n') + '\n';

describe('parseSinkholeLog', () => {
  it('parses the lines of a real run', () => {
    const { records, rejected, notes } = parseSinkholeLog(Buffer.from(CAPTURED), 'build');
    expect(rejected).toBe(0);
    expect(notes).toEqual([]);
    expect(records).toHaveLength(7);
    expect(records[0]).toEqual({ phase: 'build', line: 1, time: 1796186525.83031, kind: 'dns', address: '127.0.0.1', port: 53, dnsName: 'stage2.pyti-test.invalid', dnsType: 'A', bytesSent: 42 });
    expect(records[2]!.http).toEqual({
      method: 'GET', path: '/payload/stage2.sh?id=42', host: 'stage2.pyti-test.invalid',
      headers: [['Accept-Encoding', 'identity'], ['Host', 'stage2.pyti-test.invalid'], ['User-Agent', 'Python-urllib/3.11'], ['X-Pyti-Test', 'stage2'], ['Connection', 'close']],
    });
    expect(Buffer.from(records[3]!.payloadBase64!, 'base64').toString()).toBe('secret=hunter2');
    expect(records[4]).toMatchObject({ sni: 'evil.example.invalid', port: 443, line: 5 });
    expect(records[5]).toMatchObject({ kind: 'tcp', address: '2001:db8::99', port: 6667 });
    expect(records[6]).toMatchObject({ kind: 'udp', address: '203.0.113.5', bytesSent: 4 });
  });

  it('counts and drops lines of the wrong shape, never throws', () => {
    const bad = [
      'not json', '[1,2]', '{"kind":"ftp","time":1,"address":"1.2.3.4","port":1,"bytesSent":0}',
      '{"kind":"tcp","time":1,"address":"<script>","port":1,"bytesSent":0}',
      '{"kind":"tcp","time":1,"address":"1.2.3.4","port":70000,"bytesSent":0}',
      '{"kind":"tcp","time":1,"address":"1.2.3.4","port":80,"bytesSent":-1}',
      '{"kind":"dns","time":1,"address":"127.0.0.1","port":53,"bytesSent":1}',
      '{"kind":"tcp","time":1,"address":"1.2.3.4","port":80,"bytesSent":1,"http":{"method":"GET","path":"/","headers":[["a"]]}}',
      '{"kind":"tcp","time":1,"address":"1.2.3.4","port":80,"bytesSent":1,"payloadBase64":"!!!"}',
      '{"kind":"tcp","time":1,"address":"1.2.3.4","port":80,"bytesSent":1,"sni":5}',
      '{"ctl":"bogus"}', 'x'.repeat(SINKHOLE_LIMITS.lineBytes + 1),
    ];
    const { records, rejected } = parseSinkholeLog(Buffer.from(bad.join('\n')), 'import');
    expect(records).toEqual([]);
    expect(rejected).toBe(bad.length);
  });

  it('caps strings, headers and records, and turns control lines into notes', () => {
    const long = JSON.stringify({
      kind: 'tcp', time: 1, address: '1.2.3.4', port: 80, bytesSent: 1,
      http: { method: 'GET', path: '/'.repeat(5000), host: 'h'.repeat(5000), headers: Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v'.repeat(i === 0 ? 3000 : 10)]) },
    });
    const [r] = parseSinkholeLog(Buffer.from(long), 'build').records;
    expect(r!.http!.path).toHaveLength(2048);
    expect(r!.http!.host).toHaveLength(1024);
    expect(r!.http!.headers).toHaveLength(SINKHOLE_LIMITS.headers);
    expect(r!.http!.headers[0]![1]).toHaveLength(1024);
    const many = Array.from({ length: SINKHOLE_LIMITS.records + 3 }, () => CAPTURED.split('\n')[0]).join('\n');
    const p = parseSinkholeLog(Buffer.from(many), 'build');
    expect(p.records).toHaveLength(SINKHOLE_LIMITS.records);
    expect(p.rejected).toBe(3);
    const ctl = ['{"ctl":"unavailable","reason":"nft -f - failed"}', '{"ctl":"flushed","id":"f2","suppressed":12}', '{"ctl":"note","text":"hi"}'].join('\n');
    expect(parseSinkholeLog(Buffer.from(ctl), 'install').notes).toEqual([
      'the sinkhole was unavailable: nft -f - failed', 'the sinkhole recorded 12 more records than it keeps', 'hi',
    ]);
  });
});

const task = (id: string, network?: 'sinkhole'): TaskSpec => ({
  id, title: id, dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', command: ['true'], network,
  limits: { wallSeconds: 1, noOutputSeconds: 1, cpuSeconds: 1, memoryBytes: 1, processes: 1, outputBytes: 1 },
});

describe('collectNetwork, the table and sinkhole-contact', () => {
  const plan: Plan = { tasks: [task('build', 'sinkhole'), task('test'), task('import', 'sinkhole')], parallel: 1 };
  const raw = (t: string, name: string): Buffer | undefined =>
    name !== 'sinkhole.jsonl' ? undefined : t === 'build' ? Buffer.from(CAPTURED) : t === 'test' ? Buffer.from(CAPTURED) : t === 'import' ? Buffer.from('junk\n') : undefined;

  it('reads only the sinkhole phases and notes rejected lines', () => {
    const notes: string[] = [];
    const recs = collectNetwork(plan, raw, notes)!;
    expect(recs).toHaveLength(7); // test's file (a task without the sinkhole) is not read
    expect(recs.every((r) => r.phase === 'build')).toBe(true);
    expect(notes).toEqual(['import/sinkhole.jsonl: 1 lines rejected (malformed or over a limit)']);
    expect(collectNetwork({ tasks: [task('test')], parallel: 1 }, raw, [])).toBeUndefined();
  });

  it('renders every record escaped', () => {
    const recs = parseSinkholeLog(Buffer.from(CAPTURED), 'build').records;
    recs[0]!.dnsName = '<img src=x onerror=alert(1)>';
    const html = networkSection(recs);
    expect(html).toContain('What the package tried to reach and sent (7)');
    expect(html).toContain('GET /payload/stage2.sh?id=42');
    expect(html).toContain('[2001:db8::99]:6667');
    expect(html).toContain('secret=hunter2');
    expect(html).not.toContain('<img');
    expect(payloadPreview(Buffer.from('a\x00\nb').toString('base64'))).toBe('a\\x00\\nb');
    expect(networkSection(undefined)).toBe('');
  });

  it('finds HTTP, TLS and TCP contacts high, UDP medium, DNS nothing', () => {
    const f = sinkholeFindings(parseSinkholeLog(Buffer.from(CAPTURED), 'build').records);
    expect(f.map((x) => [x.severity, x.title])).toEqual([
      ['high', 'build sends an HTTP GET to stage2.pyti-test.invalid (198.51.100.7:80)'],
      ['high', 'build sends an HTTP POST to stage2.pyti-test.invalid (198.51.100.7:80)'],
      ['high', 'build opens a TLS connection to evil.example.invalid (198.51.100.7:443)'],
      ['high', 'build connects to [2001:db8::99]:6667'],
      ['medium', 'build sends a datagram to 203.0.113.5:9999'],
    ]);
    expect(f[0]!.evidence[0]).toEqual({ phase: 'build', seq: 0, line: 3, pid: 0, file: 'sinkhole.jsonl', summary: 'HTTP GET http://stage2.pyti-test.invalid/payload/stage2.sh?id=42 (172 bytes sent)' });
  });
});
