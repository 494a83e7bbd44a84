/**
 * The warm Python (vm-agent/guest/warm_python.py, started by vm-agent's startWarmPython; its client is
 * tasks/guest/pyti_warm.py), run for real on this host: a root server under `strace -ff`, a client that
 * is another user. What a user of a VM audit relies on: a step forked warm runs as the client's user
 * with its cwd, argv, environment and exit status; its trace holds every event of the step and its
 * children and nothing of the server's set-up; PyTI's trace reading takes the forked step for the
 * script it runs (a package runner, so its events are the package's); root clients are refused.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStrace, ProcessOwners } from '@pyti/common';
import { startWarmPython, type WarmPython } from '@pyti/vm-agent';

const TASKS_GUEST = new URL('../../tasks/guest/', import.meta.url).pathname;
const NOBODY = 65534;
/** The system's interpreter: one another user can run (not a shim under root's home). */
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const canRun = process.getuid?.() === 0
  && spawnSync('strace', ['-V']).status === 0
  && spawnSync('setpriv', ['--version']).status === 0
  && spawnSync(PY, ['-c', 'pass']).status === 0;
const maybe = canRun ? describe : describe.skip;
if (!canRun) console.warn('warm-python.test: needs root, strace, setpriv and python3: skipped');

/** A client's call of pyti_warm.warm_capture, as uid `uid` (root: 0), printing the result as JSON. */
function client(dir: string, uid: number, script: string, args: string[], cwd: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const code = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(TASKS_GUEST)})`,
    'import pyti_warm',
    `pyti_warm.SOCKET = ${JSON.stringify(join(dir, 'python.sock'))}`,
    `r = pyti_warm.warm_capture(${JSON.stringify([script, ...args])}, ${JSON.stringify(join(cwd, `${script.split('/').pop()}.strace`))}, cwd=${JSON.stringify(cwd)}, echo=False)`,
    'print("RESULT " + json.dumps(r))',
  ].join('\n');
  const argv = uid === 0 ? [PY, '-c', code] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', PY, '-c', code];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60000, env: { PATH: process.env.PATH!, LANG: 'C.UTF-8', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function result(out: string): [number, string] | null {
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`no result in ${out}`);
  return JSON.parse(line.slice(7)) as [number, string] | null;
}

maybe('warm Python (fork server under strace -ff)', () => {
  let dir: string;
  let work: string;
  let warm: WarmPython;
  const logs: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-warm-'));
    work = mkdtempSync(join(tmpdir(), 'pyti-warm-work-'));
    chmodSync(work, 0o777);
    warm = startWarmPython((l) => logs.push(l), { dir, python: PY });
    expect(await warm.ready).toBe(true);
  });

  afterAll(() => {
    warm?.process?.kill('SIGKILL');
    if (warm?.process?.pid) spawnSync('pkill', ['-KILL', '-f', join(dir, 'warm_python.py')]);
    rmSync(dir, { recursive: true, force: true });
    if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });
  });

  it('runs a step as the client with its cwd, argv, environment and exit code, and traces it and its children', () => {
    const script = join(work, 'step.py');
    writeFileSync(script, [
      'import json, os, subprocess, sys',
      'with open(os.path.join(os.getcwd(), "facts.json"), "w") as f:',
      '    json.dump({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd(),',
      '               "argv": sys.argv, "x": os.environ.get("PYTI_WARM_TEST"), "path0": sys.path[0]}, f)',
      'subprocess.run(["true"])',
      'os.path.exists(os.path.expanduser("~/.ssh/id_rsa"))',
      'print("hello from warm")',
      'sys.exit(3)',
    ].join('\n'));
    chmodSync(script, 0o644);
    const r = client(dir, NOBODY, script, ['one', 'two words'], work, { PYTI_WARM_TEST: 'yes' });
    const done = result(r.stdout);
    expect(done).not.toBeNull();
    expect(done![0]).toBe(3);
    expect(done![1]).toContain('hello from warm');
    const facts = JSON.parse(readFileSync(join(work, 'facts.json'), 'utf8')) as Record<string, unknown>;
    expect(facts).toMatchObject({ uid: NOBODY, gid: NOBODY, groups: [], cwd: work, argv: [script, 'one', 'two words'], x: 'yes', path0: work });

    const trace = readFileSync(join(work, 'step.py.strace'), 'utf8');
    const lines = trace.trim().split('\n');
    // The first line stands for the exec a cold start would have made; the server's set-up is not there.
    expect(lines[0]).toMatch(/^\d+ \d+\.\d+ execve\(".*python[0-9.]*", \[".*python[0-9.]*", ".*step\.py", "one", "two words"\], 0x0 \/\* pyti: forked warm \*\/\) = 0$/);
    expect(trace).not.toContain('cgroup.procs');
    expect(trace).not.toContain('.task-begin');
    const { events } = parseStrace(trace);
    const root = events[0]!.pid;
    expect(events.some((e) => e.kind === 'file' && e.pid === root && e.path === join(work, 'facts.json') && e.op === 'create')).toBe(true);
    const childExec = events.find((e) => e.kind === 'exec' && e.ok && e.argv[0] === 'true');
    expect(childExec).toBeDefined();
    expect(childExec!.pid).not.toBe(root);
    expect(events.some((e) => e.kind === 'file' && /\.ssh\/id_rsa$/.test(e.path))).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`^${root} \\d+\\.\\d+ \\+\\+\\+ exited with 3 \\+\\+\\+$`));
  });

  it("takes a forked step for the script it runs: a package runner's events are the package's", () => {
    const runner = join(work, 'pep517_inprocess.py');
    writeFileSync(runner, 'import subprocess\nopen("built.txt", "w").write("x")\nsubprocess.run(["true"])\n');
    chmodSync(runner, 0o644);
    const done = result(client(dir, NOBODY, runner, [], work).stdout);
    expect(done?.[0]).toBe(0);
    const { events } = parseStrace(readFileSync(join(work, 'pep517_inprocess.py.strace'), 'utf8'));
    const owners = new ProcessOwners();
    for (const e of events) owners.observe(e);
    const write = events.find((e) => e.kind === 'file' && e.path.endsWith('/built.txt'));
    const spawned = events.find((e) => e.kind === 'exec' && e.argv[0] === 'true');
    expect(owners.ownerOf(write!.pid)).toBe('package');
    expect(owners.ownerOf(spawned!.pid)).toBe('package');
  });

  it('refuses root, and the step is then not run (the caller starts it cold)', () => {
    const script = join(work, 'root-step.py');
    writeFileSync(script, 'open("ran-as-root", "w").write("x")\n');
    const done = result(client(dir, 0, script, [], work).stdout);
    expect(done).toBeNull();
    expect(() => readFileSync(join(work, 'ran-as-root'))).toThrow();
  });

  it('is not held up by a client that connects and says nothing', () => {
    // A silent connection first (as a package's code could make one), then a real step: served once the silent one times out.
    const code = [
      'import socket, subprocess, sys, time',
      `s = socket.socket(socket.AF_UNIX); s.connect(${JSON.stringify(join(dir, 'python.sock'))})`,
      'time.sleep(0.2)',
      `r = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=60)`,
      'print(r.stdout)',
    ].join('\n');
    const script = join(work, 'after-silence.py');
    writeFileSync(script, 'print("served")\n');
    const inner = [
      'import sys, json',
      `sys.path.insert(0, ${JSON.stringify(TASKS_GUEST)})`,
      'import pyti_warm',
      `pyti_warm.SOCKET = ${JSON.stringify(join(dir, 'python.sock'))}`,
      `print("RESULT " + json.dumps(pyti_warm.warm_capture([${JSON.stringify(script)}], ${JSON.stringify(join(work, 'silence.strace'))}, cwd=${JSON.stringify(work)}, echo=False)))`,
    ].join('\n');
    const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', PY, '-c', code, PY, '-c', inner], { encoding: 'utf8', timeout: 90000 });
    expect(result(r.stdout)).toEqual([0, 'served\n']);
  });

  it('kills the child of a client that went away', () => {
    const marker = join(work, 'still-running');
    const script = join(work, 'long.py');
    writeFileSync(script, `import time\nfor i in range(600):\n    open(${JSON.stringify(marker)}, "w").write(str(i))\n    time.sleep(0.1)\n`);
    const code = [
      'import sys, threading, os',
      `sys.path.insert(0, ${JSON.stringify(TASKS_GUEST)})`,
      'import pyti_warm',
      `pyti_warm.SOCKET = ${JSON.stringify(join(dir, 'python.sock'))}`,
      'threading.Timer(1.5, lambda: os._exit(0)).start()',
      `pyti_warm.warm_capture([${JSON.stringify(script)}], ${JSON.stringify(join(work, 'long.strace'))}, cwd=${JSON.stringify(work)}, echo=False)`,
    ].join('\n');
    spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', PY, '-c', code], { encoding: 'utf8', timeout: 30000 });
    const before = readFileSync(marker, 'utf8');
    spawnSync('sleep', ['1']);
    expect(readFileSync(marker, 'utf8')).toBe(before);
  });

  it('answers a malformed request with an error and keeps serving', () => {
    const code = [
      'import socket, struct, json',
      `s = socket.socket(socket.AF_UNIX); s.connect(${JSON.stringify(join(dir, 'python.sock'))})`,
      'body = b"{not json"',
      's.sendall(struct.pack(">I", len(body)) + body)',
      'print(s.recv(4096).decode())',
    ].join('\n');
    const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', PY, '-c', code], { encoding: 'utf8', timeout: 30000 });
    expect(JSON.parse(r.stdout.trim())).toEqual({ error: expect.stringMatching(/4 descriptors/) });
    const script = join(work, 'after.py');
    writeFileSync(script, 'print("still serving")\n');
    expect(result(client(dir, NOBODY, script, [], work).stdout)).toEqual([0, 'still serving\n']);
  });
});
