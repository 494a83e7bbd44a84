import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLimited, type RunRequest } from './process-runner.js';
import type { TaskCgroup } from './task-cgroup.js';
import { launcherBinary } from './task-launcher.js';

// Real launches through the runner: the compiled launcher (built by `npm run build`) and the Python one.
const limits = { wallSeconds: 20, noOutputSeconds: 20, cpuSeconds: 5, memoryBytes: 1e9, processes: 64, outputBytes: 1e6 };
const asRoot = process.getuid?.() === 0 ? it : it.skip;
const TASK_UID = 61987;

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'pyti-launch-test-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

/** A cgroup stand-in that records when the runner moved the launcher in (the real one needs cgroup v2 as root). */
function gateWitness(marker: string, seen: string[]): TaskCgroup {
  return {
    path: marker,
    enter: (pid: number) => {
      // The command must not have run yet: the launcher is still waiting for its go-ahead.
      seen.push(existsSync(join(work, 'ran')) ? 'command ran before the go-ahead' : `entered ${pid}`);
      writeFileSync(marker, 'x');
    },
    kill: () => undefined,
    events: () => ({ oomKills: 0, pidsMax: 0 }),
    peakMemoryBytes: () => 0,
    remove: async () => undefined,
  } as unknown as TaskCgroup;
}

describe('the compiled task launcher', () => {
  it('is built into the agent bundle and runs here', () => {
    expect(launcherBinary()).toMatch(/pyti-launch$/);
  });
});

describe.each([['compiled', undefined], ['python', 'python' as const]])('the %s task launcher', (_name, launcher) => {
  const run = (argv: string[], over: Partial<RunRequest> = {}) =>
    runLimited({ argv, cwd: work, env: { PATH: '/usr/bin:/bin' }, limits, launcher, ...over });

  it('passes output and the exit code through', async () => {
    const o = await run(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(o.exitCode).toBe(3);
    expect(o.signal).toBeNull();
    expect(o.outputTail).toContain('out\n');
    expect(o.outputTail).toContain('err\n');
  });

  it('reports a command that cannot be run as exit 127 with a message', async () => {
    const o = await run(['/nonexistent/command']);
    expect(o.exitCode).toBe(127);
    expect(o.outputTail).toContain('cannot run /nonexistent/command');
  });

  it('reads a SIGKILL as killed and a SIGXCPU as the CPU limit', async () => {
    const killed = await run(['sh', '-c', 'kill -KILL $$']);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.limit).toBeUndefined();
    const xcpu = await run(['sh', '-c', 'kill -XCPU $$']);
    expect(xcpu.signal).toBe('SIGXCPU');
    expect(xcpu.limit).toBe('cpu');
  });

  it('sets the rlimits and hands the command default signal dispositions', async () => {
    const o = await run(['sh', '-c', 'ulimit -t; ulimit -c; ulimit -v; grep SigIgn /proc/self/status']);
    expect(o.exitCode).toBe(0);
    expect(o.outputTail.split('\n').slice(0, 3)).toEqual([String(limits.cpuSeconds + 1), '0', String(2 ** 32 / 1024)]);
    expect(o.outputTail).toMatch(/SigIgn:\s+0+\n/);
  });

  it('runs the first instruction only after the runner moved it into its cgroup', async () => {
    const seen: string[] = [];
    const marker = join(work, 'go');
    const o = await run(['sh', '-c', `touch ${work}/ran; test -e ${marker} && echo gated`], { cgroup: gateWitness(marker, seen) });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^entered \d+$/);
    expect(o.exitCode).toBe(0);
    expect(o.outputTail).toBe('gated\n');
  });

  asRoot('gives the task a terminal, its login uid, its uid with no supplementary groups, and no reach to the launcher', async () => {
    const py = 'import os,sys; print(os.isatty(0), os.getuid(), os.getgid(), os.getgroups(), open("/proc/self/loginuid").read(), sys.stdin.read() == "")';
    const o = await run(['python3', '-c', py], { uid: TASK_UID, gid: TASK_UID, terminal: true });
    expect(o.exitCode).toBe(0);
    expect(o.outputTail).toBe(`True ${TASK_UID} ${TASK_UID} [] ${TASK_UID} True\n`);
    // The launcher waiting for the task is root's: the task can neither signal nor trace it.
    const reach = await run(['sh', '-c', 'kill -0 $PPID 2>/dev/null && echo reached || echo denied; cat /proc/$PPID/environ >/dev/null 2>&1 && echo read || echo unreadable'],
      { uid: TASK_UID, gid: TASK_UID, terminal: true });
    expect(reach.outputTail).toBe('denied\nunreadable\n');
  });

  asRoot('re-raises the signal of a task that runs under a uid and a terminal', async () => {
    const o = await run(['sh', '-c', 'kill -XCPU $$'], { uid: TASK_UID, gid: TASK_UID, terminal: true });
    expect(o.signal).toBe('SIGXCPU');
    expect(o.limit).toBe('cpu');
    const k = await run(['sh', '-c', 'sleep 30 & kill -KILL $$'], { uid: TASK_UID, gid: TASK_UID, terminal: true });
    expect(k.signal).toBe('SIGKILL');
    expect(k.durationMs).toBeLessThan(10000);
  });
});
