/**
 * The libvirt backend end to end: libvirtd is started here when it is not running (CI has no
 * systemd), the bundled sample is audited in a transient libvirt domain and must come out as it does
 * in bubblewrap, and nothing of the job may remain afterwards: no domain, no QEMU, no overlay, no
 * socket, no log. Under TCG an audit takes minutes, so the VM tests are few.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcPeer, type AgentNotifications, type AgentRequests, type TaskSpec } from '@pyti/vm-agent';
import {
  auditDistribution, BwrapBackend, ensureLibvirtd, LibvirtBackend, type Backend, type LibvirtInstance, type SandboxInputs,
} from '@pyti/slave';
import {
  severityAtLeast, type AuditReport,
} from '@pyti/common';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';

const URI = 'qemu:///system';
const virshLines = (...args: string[]): string[] =>
  execFileSync('virsh', ['-c', URI, ...args], { encoding: 'utf8' }).split('\n').map((l) => l.trim()).filter(Boolean);
const domainExists = (name: string): boolean => virshLines('list', '--all', '--name').includes(name);
/** QEMU processes of a domain: libvirt names the guest on QEMU's command line. */
const qemuOf = (name: string): string[] =>
  execFileSync('ps', ['-eo', 'user:20,pid,args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`guest=${name},`));

/** Everything of a job that must be gone after dispose(). */
function expectNothingLeft(inst: LibvirtInstance): void {
  expect(domainExists(inst.domain)).toBe(false);
  expect(qemuOf(inst.domain)).toEqual([]);
  expect(existsSync(inst.vmRoot)).toBe(false); // overlay, input disk, agent socket, console logs
  expect(existsSync(`/var/log/libvirt/qemu/${inst.domain}.log`)).toBe(false);
  if (inst.virshPid) expect(existsSync(`/proc/${inst.virshPid}`)).toBe(false);
}

/** What must be the same in the libvirt and the bwrap reports of the same audit. */
function essentials(r: AuditReport) {
  return {
    result: r.result, verdict: r.verdict,
    tasks: r.tasks.map((t) => [t.id, t.status]),
    tests: r.tests && { total: r.tests.total, passed: r.tests.passed, failed: r.tests.failed, names: r.tests.cases.map((c) => c.name).sort() },
    findings: r.findings.map((f) => `${f.phase}:${f.rule}:${f.severity}`).sort(),
    installed: r.install?.installed?.map((i) => i.name).sort(),
    lintSymbols: [...new Set(r.lint?.messages.map((m) => m.symbol))].sort(),
    style: r.style?.total,
  };
}

let dir: string;
let backend: LibvirtBackend;
let probe: string | null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-libvirt-test-'));
  await ensureLibvirtd(URI, 90000, (l) => process.stderr.write(`${l}\n`));
  backend = new LibvirtBackend({ uri: URI });
  probe = await backend.probe();
}, 240000);
afterAll(() => {
  if (process.env.PYTI_KEEP_TEST_OUTPUT) process.stderr.write(`test output kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
});

function smallJob(name: string, input: string | Buffer = 'not used'): SandboxInputs {
  const jobDir = join(dir, name);
  for (const d of ['input', 'wheelhouse']) mkdirSync(join(jobDir, d), { recursive: true });
  writeFileSync(join(jobDir, 'input', 'x-1.0.tar.gz'), input);
  return {
    inputDir: join(jobDir, 'input'), wheelhouse: join(jobDir, 'wheelhouse'), jobDir, rootfs: '',
    agentDir: new URL('../../vm-agent/bundle/', import.meta.url).pathname, tasksDir: new URL('../../tasks/guest/', import.meta.url).pathname,
  };
}

describe('the libvirt backend', () => {
  it('probes ready once libvirtd runs', () => {
    expect(probe).toBeNull();
    expect(backend.capabilities).toMatchObject({ isolation: 'vm', network: 'none', rollback: true });
  });

  it('says why when the daemon is not reachable or the URI is remote', async () => {
    expect(await new LibvirtBackend({ uri: 'qemu:///system?socket=/nonexistent/libvirt-sock' }).probe()).toMatch(/^libvirtd is not reachable at qemu:\/\/\/system\?socket=\/nonexistent\/libvirt-sock: .*libvirtd -d/);
    expect(await new LibvirtBackend({ uri: 'qemu+ssh://build-7.example/system' }).probe()).toMatch(/not on this host: the agent's channel is a UNIX socket/);
  });

  it('audits the bundled sample in a transient domain with the same report as bwrap, and leaves nothing behind', async () => {
    expect(probe).toBeNull();
    const dist = buildFixture('pyti-sample', 'sdist');
    const wheels = makeWheelhouse(join(dir, 'wheels'), ['pyti-helper']);
    const started: LibvirtInstance[] = [];
    const spy: Backend = {
      name: backend.name,
      get capabilities() {
        return backend.capabilities;
      },
      probe: () => backend.probe(),
      start: async (inputs) => {
        const inst = await backend.start(inputs);
        started.push(inst);
        // While it runs: a transient domain, QEMU as libvirt's unprivileged user, no NIC on its command line.
        expect(virshLines('list', '--transient', '--name')).toContain(inst.domain);
        const qemu = qemuOf(inst.domain);
        expect(qemu).toHaveLength(1);
        expect(qemu[0]!.split(/\s+/)[0]).not.toBe('root');
        expect(qemu[0]).not.toMatch(/-netdev|-nic (?!none)|virtio-net|e1000|rtl8139/);
        return inst;
      },
    };
    const t0 = Date.now();
    const vm = await auditDistribution({ distPath: dist, wheelhouse: wheels, outDir: join(dir, 'out-libvirt'), backend: spy, parallel: 2 });
    process.stderr.write(`libvirt audit of pyti-sample: ${((Date.now() - t0) / 1000).toFixed(1)} s, boot to hello ${vm.report.timings?.bootMs ?? '?'} ms\n`);
    const r = vm.report;
    expect(started).toHaveLength(1);
    expect(r.tasks.map((t) => [t.id, t.status])).toEqual(r.tasks.map((t) => [t.id, 'pass']));
    expect(r).toMatchObject({ result: 'pass', verdict: 'clean' });
    expect(vm.exitCode).toBe(0);
    expect(r.tests).toMatchObject({ total: 4, passed: 4, failed: 0 });
    expect(r.findings.filter((f) => severityAtLeast(f.severity, 'low'))).toEqual([]);
    expect(r.install!.installed!.map((i) => i.name).sort()).toEqual(['pyti-helper', 'pyti-sample']);
    expect(r.traces.install!.network.filter((n) => n.op === 'connect' || n.op === 'send')).toEqual([]);

    const bw = await auditDistribution({ distPath: dist, wheelhouse: wheels, outDir: join(dir, 'out-bwrap'), backend: new BwrapBackend(), parallel: 2 });
    expect(essentials(r)).toEqual(essentials(bw.report));

    expectNothingLeft(started[0]!);
  }, 20 * 60 * 1000);

  it('restores later jobs from one warm template, each with its own name, input disk and fresh root', async () => {
    expect(probe).toBeNull();
    const seen: { domain: string; console: string; out: string }[] = [];
    const nonce = randomBytes(4).toString('hex');
    for (const [i, input] of [randomBytes(20 * 1024 * 1024), randomBytes(1000)].entries()) {
      const inst = await backend.start(smallJob(`warm-${i}`, input));
      const peer = new RpcPeer<Record<string, never>, AgentRequests, AgentNotifications, Record<string, never>>(inst.reader, inst.writer, {});
      let out = '';
      peer.onNotification('task/output', (p) => void (out += p.text));
      await peer.request('initialize', { hostVersion: '0.1.0', clockMs: Date.now(), entropy: randomBytes(32).toString('base64') });
      // The first job leaves a mark on the root disk (/var/tmp is on it, writable by the task's user); the second must not see it.
      const task: TaskSpec = {
        id: 'look', title: 'look', dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', env: {},
        command: ['sh', '-c', `sha256sum /input/x-1.0.tar.gz; ls /var/tmp/mark-${nonce} 2>&1; touch /var/tmp/mark-${nonce} 2>&1; true`],
        limits: { wallSeconds: 120, noOutputSeconds: 120, cpuSeconds: 120, memoryBytes: 256 * 2 ** 20, processes: 32, outputBytes: 2 ** 20 },
      };
      await peer.request('run', { plan: { parallel: 1, tasks: [task] } });
      seen.push({ domain: inst.domain, console: inst.console(), out });
      expect(out).toContain(`${createHash('sha256').update(input).digest('hex')}  /input/x-1.0.tar.gz`);
      await inst.dispose();
      expectNothingLeft(inst);
    }
    expect(seen[0]!.domain).not.toBe(seen[1]!.domain);
    const key = (c: string): string | undefined => /\[pyti\] restored from warm template ([0-9a-f]{16})/.exec(c)?.[1];
    expect(key(seen[0]!.console)).toBeDefined();
    expect(key(seen[1]!.console)).toBe(key(seen[0]!.console));
    expect(seen[1]!.out).toMatch(/No such file or directory/); // the first job's write went with its overlay
    // The template is root's alone: QEMU never opens it, the slave streams it.
    const templates = readdirSync(backend.stateDir).filter((d) => d.startsWith('warm-') && !d.includes('.'));
    expect(templates).toContain(`warm-${key(seen[0]!.console)}`);
  }, 10 * 60 * 1000);

  it('a slave that dies takes its domain with it, and a sweep ends domains whose job is gone', async () => {
    expect(probe).toBeNull();
    // The virsh shell holding the domain runs under --pdeathsig KILL: killing it is what the
    // slave's death does to it. libvirtd then destroys the autodestroy domain.
    const a = await backend.start(smallJob('killed'));
    expect(domainExists(a.domain)).toBe(true);
    process.kill(a.virshPid!, 'SIGKILL');
    await a.exited;
    expect(domainExists(a.domain)).toBe(false);
    expect(qemuOf(a.domain)).toEqual([]);
    await a.dispose();
    expectNothingLeft(a);

    // A domain whose job directory is gone (its slave crashed, and someone cleaned up) is swept.
    const job = smallJob('swept');
    const b = await backend.start(job);
    rmSync(job.jobDir, { recursive: true, force: true });
    const { destroyed } = await backend.sweepStale();
    expect(destroyed).toContain(b.domain);
    expect(await b.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await b.dispose();
    expectNothingLeft(b);
    expect(readdirSync(join(backend.stateDir, 'jobs'))).not.toContain(b.domain);
  }, 5 * 60 * 1000);
});
