/**
 * The bubblewrap backend: the agent runs in the guest root filesystem with its own mount, PID, IPC,
 * UTS, cgroup and network namespaces (no network at all: only a loopback device inside), a fresh
 * tmpfs for /tmp and /work (the home, /work/home, is on /work: see images/guest/recipe.sh), and every input mounted read-only.
 *
 * It runs bwrap as root without a user namespace, because package code must run under uids other
 * than the agent's (a user namespace made by bwrap maps only one uid); the agent keeps only the
 * capabilities it needs to switch to those uids and to manage their files.
 *
 * Concurrent sandboxes on one host never share task uids: each takes a range of its own from the
 * host-wide pool (uid-range.ts) for its whole life, passed to the agent as PYTI_AGENT_UID_BASE, with
 * the slot users' passwd and group entries renumbered to it and mounted over the image's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Backend, SandboxInputs, SandboxInstance } from './backend.js';
import { spawnProcessSandbox } from './process-sandbox.js';
import { missingUidTools, takeSandboxUids, type SandboxUids } from './sandbox-uids.js';
import type { UidPool } from './uid-range.js';

const AGENT_CAPS = ['CAP_SETUID', 'CAP_SETGID', 'CAP_CHOWN', 'CAP_FOWNER', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_AUDIT_CONTROL',
  // the sinkhole's routes and nftables rules in the sandbox's own network namespace (vm-agent/src/sinkhole.ts)
  'CAP_NET_ADMIN'];
/**
 * Descriptors the host process inherited without close-on-exec (from a CI runner or a shell) pass
 * through bwrap to the agent and on to package code, which could write to them: the guest's first
 * shell closes every descriptor above stderr before it becomes the agent.
 */
const CLOSE_INHERITED_FDS = 'for f in /proc/self/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done; exec "$@"';

export interface BwrapOptions {
  /** Size of the /work tmpfs in bytes. */
  workBytes?: number;
  /** Size of the /tmp tmpfs in bytes. */
  tmpBytes?: number;
  /** The host-wide pool task uid ranges come from (default: uid-range.ts's). */
  uidPool?: UidPool;
}

export class BwrapBackend implements Backend {
  readonly name = 'bwrap';
  readonly capabilities = { isolation: 'namespaces', network: 'none', rollback: true } as const;

  constructor(private readonly opts: BwrapOptions = {}) {}

  async probe(): Promise<string | null> {
    const which = spawnSync('bwrap', ['--version'], { encoding: 'utf8' });
    if (which.error || which.status !== 0) return 'bubblewrap (bwrap) is not installed: apt-get install bubblewrap';
    if (process.getuid?.() !== 0) return 'the bwrap backend runs as root (package code runs under separate unprivileged uids)';
    const uidTools = missingUidTools();
    if (uidTools) return uidTools;
    const t = spawnSync('bwrap', ['--unshare-net', '--unshare-pid', '--ro-bind', '/', '/', '--proc', '/proc', 'true'], { encoding: 'utf8' });
    if (t.status !== 0) return `bwrap cannot create namespaces here: ${(t.stderr || '').trim()}`;
    return null;
  }

  /** The bwrap command line for a job whose tasks run under `uids` (exported for tests and for people reading the docs). */
  argv(inputs: SandboxInputs, uids: Pick<SandboxUids, 'base' | 'accounts'>): string[] {
    const work = String(this.opts.workBytes ?? 4 * 1024 ** 3);
    const tmp = String(this.opts.tmpBytes ?? 1024 ** 3);
    const a = [
      'bwrap',
      '--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup',
      '--die-with-parent', '--new-session', '--hostname', 'alex-thinkpad',
      '--ro-bind', inputs.rootfs, '/',
      '--proc', '/proc', '--dev', '/dev',
      '--size', tmp, '--tmpfs', '/tmp',
      '--size', work, '--tmpfs', '/work',
      ...(inputs.dataDir ? ['--bind', inputs.dataDir, '/work/data'] : []),
      '--ro-bind', inputs.inputDir, '/input',
      '--ro-bind', inputs.wheelhouse, '/wheelhouse',
      '--ro-bind', inputs.agentDir, '/opt/pyti/agent',
      '--ro-bind', inputs.tasksDir, '/opt/pyti/tasks',
      '--ro-bind', uids.accounts.passwd, '/etc/passwd',
      '--ro-bind', uids.accounts.group, '/etc/group',
      '--cap-drop', 'ALL',
    ];
    for (const c of AGENT_CAPS) a.push('--cap-add', c);
    a.push('--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'LANG', 'C.UTF-8', '--setenv', 'PYTI_AGENT_UID_BASE', String(uids.base), '--chdir', '/');
    a.push('bash', '-c', CLOSE_INHERITED_FDS, 'pyti-agent', 'node', '/opt/pyti/agent/agent.mjs');
    return a;
  }

  async start(inputs: SandboxInputs): Promise<SandboxInstance> {
    for (const p of [inputs.rootfs, inputs.inputDir, inputs.wheelhouse, inputs.agentDir, inputs.tasksDir]) {
      if (!existsSync(p)) throw new Error(`bwrap: missing ${p}`);
    }
    const uids = await takeSandboxUids(inputs.rootfs, inputs.jobDir, this.opts.uidPool);
    return spawnProcessSandbox(this.argv(inputs, uids), { PATH: process.env.PATH ?? '/usr/bin:/bin' }, uids);
  }
}
