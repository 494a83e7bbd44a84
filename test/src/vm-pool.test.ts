/**
 * The pool of ready VM guests, for QEMU and libvirt, as a user of a slave notices it: a job started
 * while a guest waits gets it (its hello comes in a fraction of a restore's time), each job's guest
 * sees that job's own input (never the previous one's: a pooled guest serves one job), a waiting
 * guest that dies is replaced, and closing the pool leaves no VM behind. Under TCG; run under the
 * VM lock.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Plan, TaskSpec } from '@pyti/vm-agent';
import { ensureAgentBundle } from '@pyti/images';
import { tasksDir } from '@pyti/tasks';
import { ensureLibvirtd, LibvirtBackend, QemuBackend, readPytiMeta, runAgentSession, type Backend, type SandboxInputs } from '@pyti/slave';

jest.setTimeout(600_000);

const URI = 'qemu:///system';
const limits = { wallSeconds: 120, noOutputSeconds: 120, cpuSeconds: 120, memoryBytes: 512 * 2 ** 20, processes: 64, outputBytes: 1e6 };
const catMarker: Plan = {
  parallel: 1,
  tasks: [{ id: 'cat', title: 'read the input', dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', limits, command: ['cat', '{input}/marker.txt'] } as TaskSpec],
};

let dir: string;
let agentDir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-pool-test-'));
  agentDir = await ensureAgentBundle();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A job's inputs whose input directory holds marker.txt = `marker`. */
function jobInputs(name: string, marker: string): SandboxInputs {
  const jobDir = join(dir, name);
  mkdirSync(join(jobDir, 'input'), { recursive: true });
  mkdirSync(join(jobDir, 'wheels'), { recursive: true });
  writeFileSync(join(jobDir, 'input', 'marker.txt'), marker);
  return { inputDir: join(jobDir, 'input'), wheelhouse: join(jobDir, 'wheels'), agentDir, tasksDir: tasksDir(), rootfs: '', jobDir };
}

/** Starts a job, runs the plan: ms from start() to the agent's hello, what the task printed, the console. */
async function runJob(backend: Backend, inputs: SandboxInputs): Promise<{ readyMs: number; output: string; console: string }> {
  const t0 = Date.now();
  const inst = await backend.start(inputs);
  const startMs = Date.now() - t0;
  const s = await runAgentSession(inst, catMarker);
  if (!s.hello) throw new Error(`no hello: ${JSON.stringify(s.infraError)}\n${s.console.slice(-3000)}`);
  expect(s.run?.tasks[0]?.status).toBe('pass');
  return { readyMs: startMs + s.bootMs!, output: s.output.get('cat') ?? '', console: s.console };
}

/** Runs `script` (sh) as a job's one task on `backend`: what it printed, and whether the job took a waiting guest. */
async function runShell(backend: Backend, inputs: SandboxInputs, script: string): Promise<{ output: string; pooled: boolean }> {
  const plan: Plan = { parallel: 1, tasks: [{ ...catMarker.tasks[0]!, id: 'sh', command: ['sh', '-c', script] } as TaskSpec] };
  const s = await runAgentSession(await backend.start(inputs), plan);
  if (!s.hello) throw new Error(`no hello: ${JSON.stringify(s.infraError)}\n${s.console.slice(-3000)}`);
  expect([s.run?.tasks[0]?.status, s.output.get('sh')]).toEqual(['pass', expect.anything()]);
  return { output: s.output.get('sh') ?? '', pooled: s.console.includes('taken from the guest pool') };
}

/** Pids of this process's children running `exe` (QEMU, or libvirt's virsh shells). */
function ownChildren(exe: string): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).flatMap((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
      return ppid === process.pid && state !== 'Z' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.endsWith(exe) ? [Number(pid)] : [];
    } catch {
      return [];
    }
  });
}

/** libvirt domains this process made (PyTI's metadata names our pid). */
function ownDomains(): string[] {
  const names = execFileSync('virsh', ['-c', URI, 'list', '--name'], { encoding: 'utf8' }).split('\n').map((l) => l.trim()).filter((n) => /^pyti-[0-9a-f]{12}$/.test(n));
  return names.filter((n) => {
    try {
      return readPytiMeta(execFileSync('virsh', ['-c', URI, 'dumpxml', n], { encoding: 'utf8' }))?.pid === process.pid;
    } catch {
      return false;
    }
  });
}

const waitFor = async (what: string, ok: () => boolean, ms = 120_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

interface Case {
  name: string;
  make: (pool: number) => Backend & { poolReady(): Promise<void>; closePool(): Promise<void>; poolStatus(): { size: number; ready: number; filling: number } };
  prepare?: () => Promise<void>;
  /** Our running guests (no job is running: the waiting ones), by QEMU pid or domain name. */
  guests: () => string[];
  /** Kills the pooled guest (no job is running), outside the backend. */
  killWaiting: () => void;
  /** What of ours is still running. */
  left: () => string[];
}

const cases: Case[] = [
  {
    name: 'qemu', make: (pool) => new QemuBackend({ pool }),
    guests: () => ownChildren('qemu-system-x86_64').map(String),
    killWaiting: () => ownChildren('qemu-system-x86_64').forEach((pid) => process.kill(pid, 'SIGKILL')),
    left: () => ownChildren('qemu-system-x86_64').map(String),
  },
  {
    name: 'libvirt', make: (pool) => new LibvirtBackend({ uri: URI, pool }),
    prepare: () => ensureLibvirtd(URI, 90_000, () => undefined),
    guests: ownDomains,
    killWaiting: () => ownDomains().forEach((d) => execFileSync('virsh', ['-c', URI, 'destroy', d], { stdio: 'ignore' })),
    left: () => [...ownDomains(), ...ownChildren('virsh').map(String)],
  },
];

describe.each(cases)('a pool of ready guests: $name', (c) => {
  let why: string | null = null;
  beforeAll(async () => {
    try {
      await c.prepare?.();
      why = await c.make(0).probe();
    } catch (err) {
      why = (err as Error).message;
    }
    if (why) process.stderr.write(`vm-pool ${c.name}: SKIPPED: ${why}\n`);
  }, 240_000);

  it('jobs start from waiting guests, each sees its own input, a dead waiting guest is replaced, and closing leaves no VM', async () => {
    if (why) return;
    // Without a pool: the job's start restores its guest (the template is built here if need be).
    const plain = c.make(0);
    await runJob(plain, jobInputs(`${c.name}-warmup`, 'warm-up')); // builds the warm template once
    const unpooled = await runJob(plain, jobInputs(`${c.name}-plain`, 'plain'));
    expect(unpooled.output).toBe('plain');
    expect(unpooled.console).not.toContain('taken from the guest pool');
    expect(unpooled.console).not.toContain('priming the translation cache'); // only a guest that waits in the pool

    const backend = c.make(1);
    try {
      await backend.poolReady();
      expect(backend.poolStatus()).toMatchObject({ size: 1, ready: 1 });
      const a = await runJob(backend, jobInputs(`${c.name}-a`, 'job A'));
      expect(a.output).toBe('job A');
      expect(a.console).toContain('taken from the guest pool');
      expect(a.console).toContain('pyti-agent: priming the translation cache'); // host/prime, before its job
      process.stderr.write(`vm-pool ${c.name}: start→hello ${unpooled.readyMs} ms without the pool, ${a.readyMs} ms from the pool\n`);
      expect(a.readyMs).toBeLessThan(unpooled.readyMs);

      // The next job's guest was restored while job A ran (or right after): B sees B, not A.
      await backend.poolReady();
      const b = await runJob(backend, jobInputs(`${c.name}-b`, 'job B'));
      expect([b.output, b.console.includes('taken from the guest pool')]).toEqual(['job B', true]);

      // A waiting guest killed from outside is replaced by a fresh one, which serves the next job.
      await backend.poolReady();
      const killed = c.guests();
      expect(killed).toHaveLength(1);
      c.killWaiting();
      // Replaced by a new guest (measured: within half a second for QEMU), ready in the pool.
      await waitFor('a new waiting guest', () => {
        const now = c.guests();
        return backend.poolStatus().ready === 1 && now.length === 1 && !killed.includes(now[0]!);
      }, 60_000);
      const d = await runJob(backend, jobInputs(`${c.name}-d`, 'job D'));
      expect([d.output, d.console.includes('taken from the guest pool')]).toEqual(['job D', true]);
      await backend.poolReady();
    } finally {
      await backend.closePool();
    }
    // Closing ended the waiting guest: nothing of ours runs any more.
    await waitFor('no VM left', () => c.left().length === 0, 30_000);
    expect(backend.poolStatus()).toMatchObject({ ready: 0 });
  });

  it('a pooled job\'s input is mounted read-only, noexec, nosuid and nodev; its /tmp and /work are on a scratch disk no earlier job wrote', async () => {
    if (why) return;
    const backend = c.make(1);
    try {
      await backend.poolReady();
      const a = await runShell(backend, jobInputs(`${c.name}-mounts-a`, 'A'), 'echo A > /tmp/left-by-a && echo A > /work/home/left-by-a && cat /proc/self/mountinfo');
      expect(a.pooled).toBe(true);
      // mountinfo: id parent major:minor root mountpoint options ... - fstype source superoptions
      const mounts = new Map(a.output.split('\n').filter(Boolean).map((l) => {
        const f = l.split(' ');
        return [f[4]!, { dev: f[2]!, root: f[3]!, opts: f[5]!.split(','), fstype: f[f.indexOf('-') + 1]! }] as const;
      }));
      for (const m of ['/input', '/wheelhouse', '/opt/pyti/agent', '/opt/pyti/tasks']) {
        expect(mounts.get(m)?.opts).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
      }
      expect(mounts.get('/input')?.root).toBe('/input');
      const tmp = mounts.get('/tmp')!;
      const work = mounts.get('/work')!;
      expect([tmp.fstype, tmp.root, work.fstype, work.root, work.dev]).toEqual(['ext4', '/tmp', 'ext4', '/work', tmp.dev]);
      expect(tmp.dev).not.toBe(mounts.get('/')!.dev);
      expect(tmp.dev).not.toBe(mounts.get('/input')!.dev);
      expect(tmp.opts).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
      // The next job's guest (restored from the same template) sees none of job A's files.
      await backend.poolReady();
      const b = await runShell(backend, jobInputs(`${c.name}-mounts-b`, 'B'), 'ls -A /tmp /work/home; cat /input/marker.txt');
      expect(b.pooled).toBe(true);
      expect(b.output).not.toContain('left-by-a');
      expect(b.output).toContain('B');
    } finally {
      await backend.closePool();
    }
  });
});
