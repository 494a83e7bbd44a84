/**
 * Concurrent sandboxes on one host, end to end with real audits: each sandbox's tasks run under a uid
 * range of their own, so a hostile package can neither signal, read nor write another audit's
 * processes or files. The hostile fixture `sandbox-killer` spends its build killing every pid it
 * sees, reading their environments and writing a marker into every directory it can name (its
 * own, other processes' roots and working directories, the host's job directories), then does
 * `os.kill(-1, SIGKILL)`. It runs twice at once, in bubblewrap and in the chroot baseline (the host
 * kernel's namespaces, where the same kill once reached every bubblewrap audit of the host), beside
 * the benign pyti-sample, whose report must be what it is alone. A kill of the benign sandbox's uids
 * from outside (what the chroot baseline did) is an infrastructure failure, retried, not its build-fail.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  auditDistribution, BwrapBackend, ChrootBackend, type AuditOutcome, type AuditProgress, type Backend, type SandboxInputs, type SandboxInstance,
} from '@pyti/slave';
import type { AuditReport } from '@pyti/common';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';

const MARK = 'pyti-hostile-marker';
const skip = process.getuid?.() !== 0 || (await new BwrapBackend().probe()) !== null;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-concurrent-'));
});
afterAll(() => {
  if (process.env.PYTI_KEEP_TEST_OUTPUT) process.stderr.write(`test output kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
});

/** A backend that remembers the task uids of the sandboxes it started. */
class Recording implements Backend {
  readonly uids: { base: number; count: number }[] = [];
  current?: SandboxInstance;
  constructor(private readonly real: Backend) {}
  get name(): string {
    return this.real.name;
  }
  get capabilities(): Backend['capabilities'] {
    return this.real.capabilities;
  }
  probe(): Promise<string | null> {
    return this.real.probe();
  }
  /** Modes of the host job directories the sandboxes were given. */
  readonly jobDirModes: number[] = [];
  async start(inputs: SandboxInputs): Promise<SandboxInstance> {
    this.jobDirModes.push(statSync(inputs.jobDir).mode & 0o777);
    this.current = await this.real.start(inputs);
    if (this.current.uids) this.uids.push(this.current.uids);
    return this.current;
  }
}

function audit(name: string, fixture: string, backend: Backend, onProgress?: (p: AuditProgress) => void): Promise<AuditOutcome> {
  return auditDistribution({
    distPath: buildFixture(fixture, 'sdist'), wheelhouse: makeWheelhouse(join(dir, `wh-${name}`), ['pyti-helper']),
    outDir: join(dir, name), backend, parallel: 2, onProgress,
  });
}

/** What a user compares between two reports of one file: the result, verdict, each task's status, the findings and the tests. */
function shape(r: AuditReport): unknown {
  return {
    result: r.result, verdict: r.verdict, infraError: r.infraError, retried: r.retried?.length ?? 0,
    tasks: r.tasks.map((t) => `${t.id}:${t.status}`),
    findings: r.findings.map((f) => `${f.phase}:${f.rule}:${f.severity}`).sort(),
    tests: r.tests && { status: r.tests.status, passed: r.tests.passed, failed: r.tests.failed, errors: r.tests.errors },
  };
}

/** Files named like the hostile package's markers under `root` (a few levels deep). */
function markersUnder(root: string, depth = 4): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names.flatMap((n) => (n.startsWith(MARK) ? [join(root, n)] : depth > 0 ? markersUnder(join(root, n), depth - 1) : []));
}

/** The HOSTILE line the sweep printed: what got through. */
function hostileSummary(r: AuditReport): { wrote: string[]; read: number[]; killed: number[]; denied: number } {
  const build = r.tasks.find((t) => t.id === 'build');
  const line = /HOSTILE (\{.*\})/.exec(build?.outputTail ?? '');
  expect(line).not.toBeNull();
  return JSON.parse(line![1]!) as { wrote: string[]; read: number[]; killed: number[]; denied: number };
}

(skip ? describe.skip : describe)('concurrent sandboxes on one host', () => {
  it('two hostile audits at once change nothing in a benign audit beside them, and reach nothing of it', async () => {
    const alone = await audit('alone', 'pyti-sample', new BwrapBackend());
    expect(alone.report.result).toBe('pass');

    const benignBackend = new Recording(new BwrapBackend());
    const bwrapHostile = new Recording(new BwrapBackend());
    const chrootHostile = new Recording(new ChrootBackend());
    const [benign, hostileB, hostileC] = await Promise.all([
      audit('benign', 'pyti-sample', benignBackend),
      audit('hostile-bwrap', 'sandbox-killer', bwrapHostile),
      audit('hostile-chroot', 'sandbox-killer', chrootHostile),
    ]);

    // Three sandboxes at once, three disjoint uid ranges.
    const ranges = [...benignBackend.uids, ...bwrapHostile.uids, ...chrootHostile.uids];
    expect(ranges).toHaveLength(3);
    for (const a of ranges) for (const b of ranges) if (a !== b) expect(a.base + a.count <= b.base || b.base + b.count <= a.base).toBe(true);
    expect(benign.report.guest?.paths?.homeAliases).toEqual(alone.report.guest?.paths?.homeAliases);
    // Each job directory on the host is root's alone.
    expect([...benignBackend.jobDirModes, ...bwrapHostile.jobDirModes, ...chrootHostile.jobDirModes]).toEqual([0o700, 0o700, 0o700]);

    // The benign audit is what it is alone.
    expect(shape(benign.report)).toEqual(shape(alone.report));

    for (const h of [hostileB.report, hostileC.report]) {
      // Its own kill(-1) ended its own build: the package's failure, not the sandbox's, and not retried.
      expect(h.result).toBe('build-fail');
      expect(h.infraError).toBeUndefined();
      expect(h.retried).toBeUndefined();
      expect(h.tasks.find((t) => t.id === 'build')).toMatchObject({ status: 'fail', reason: 'killed by SIGKILL' });
      const got = hostileSummary(h);
      // Nothing outside its own sandbox: it wrote only into its own tmpfs areas (the homes are symlinks to
      // /work/home; /proc/<pid>/… of its own uid's processes), killed and read no process of another uid.
      expect(got.wrote.filter((d) => !/^\/(tmp|dev\/shm|work|home\/[a-z]+)(\/|$)|^\/proc\/\d+\/(cwd|root\/(tmp|work))(\/|$)/.test(d))).toEqual([]);
      expect(got.killed).toEqual([]);
      expect(got.read).toEqual([]);
      expect(got.denied).toBeGreaterThan(0);
    }
    // No marker reached the host, the benign audit's output, or its raw data.
    expect([...markersUnder('/tmp', 2), ...markersUnder('/dev/shm', 2), ...markersUnder('/run/pyti', 2), ...markersUnder(join(dir, 'benign'))]).toEqual([]);
    // Every process of the three ranges (tasks, and the witnesses once given end-of-file) is gone with its sandbox.
    const uidList = ranges.flatMap((r) => Array.from({ length: r.count }, (_, i) => String(r.base + i))).join(',');
    let left = '';
    for (let i = 0; i < 50; i++) {
      left = spawnSync('pgrep', ['-u', uidList], { encoding: 'utf8' }).stdout.trim();
      if (!left) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(left).toBe('');
  }, 20 * 60 * 1000);

  it("a kill of a sandbox's uids from outside it is an infrastructure failure, retried, never the package's build-fail", async () => {
    const backend = new Recording(new BwrapBackend());
    let struck = false;
    const { report } = await audit('outside-kill', 'pyti-sample', backend, (p) => {
      if (p.kind !== 'task-started' || p.id !== 'build' || struck) return;
      struck = true;
      const { base, count } = backend.uids[0]!;
      // What the chroot baseline's agent did when its tasks shared the uids: kill -KILL -1 as each task uid, from the host.
      // Soon after the build starts: the bwrap build of pyti-sample takes about 0.4 s (it sees only setuptools and wheel).
      setTimeout(() => {
        for (let i = 0; i < count; i++) spawnSync('kill', ['-KILL', '--', '-1'], { uid: base + i, gid: base + i, stdio: 'ignore' });
      }, 150);
    });
    expect(struck).toBe(true);
    expect(backend.uids).toHaveLength(2);
    expect(report.retried).toHaveLength(1);
    expect(report.retried![0]!.infraError).toMatchObject({ kind: 'error:sandbox', message: expect.stringMatching(/killed from outside the sandbox: uid \d+ of this sandbox was signalled from outside/) });
    // The second attempt, on a fresh sandbox, is the report.
    expect(report.result).toBe('pass');
    expect(report.tasks.find((t) => t.id === 'build')?.status).toBe('pass');
  }, 10 * 60 * 1000);
});
