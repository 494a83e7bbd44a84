/**
 * The unisolated backend, for benchmarks only: the same root filesystem, agent and tasks, in a plain
 * mount namespace and chroot on the host, with the host's network and no other namespace. It is the
 * "native" baseline the sandbox's cost is measured against. The CLI refuses it for audits.
 *
 * Its tasks run in a pid namespace of their own (so the agent's `kill -KILL -1` as a task uid ends
 * only this job's processes) and under a uid range of their own from the host-wide pool, like bwrap's.
 */
import type { Backend, SandboxInputs, SandboxInstance } from './backend.js';
import { spawnProcessSandbox } from './process-sandbox.js';
import { missingUidTools, takeSandboxUids } from './sandbox-uids.js';

export class ChrootBackend implements Backend {
  readonly name = 'chroot';
  readonly capabilities = { isolation: 'none', network: 'host', rollback: true } as const;

  async probe(): Promise<string | null> {
    return process.getuid?.() === 0 ? missingUidTools() : 'the chroot baseline needs root';
  }

  async start(inputs: SandboxInputs): Promise<SandboxInstance> {
    const r = inputs.rootfs;
    const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const uids = await takeSandboxUids(r, inputs.jobDir);
    // A private mount namespace so that nothing mounted here is visible on the host or outlives the job.
    const script = [
      'set -e',
      'mount --make-rprivate /',
      `root=${q(inputs.jobDir)}/chroot`,
      'mkdir -p "$root"',
      `mount --bind ${q(r)} "$root"`,
      'mount -o remount,bind,ro "$root"',
      'mount -t proc proc "$root/proc"',
      'mount --rbind /dev "$root/dev"',
      // The host's /dev/shm is writable by everyone: the job gets one of its own.
      'mount -t tmpfs -o nosuid,nodev tmpfs "$root/dev/shm"',
      'mount -t tmpfs tmpfs "$root/tmp"',
      'mount -t tmpfs tmpfs "$root/work"',
      // The home is /work/home (the image's /home/<name> are symlinks to it): on /work's tmpfs.
      `mount --bind ${q(inputs.inputDir)} "$root/input"`,
      `mount --bind ${q(inputs.wheelhouse)} "$root/wheelhouse"`,
      `mount --bind ${q(inputs.agentDir)} "$root/opt/pyti/agent"`,
      `mount --bind ${q(inputs.tasksDir)} "$root/opt/pyti/tasks"`,
      `mount --bind ${q(uids.accounts.passwd)} "$root/etc/passwd"`,
      `mount --bind ${q(uids.accounts.group)} "$root/etc/group"`,
      `exec chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8 PYTI_AGENT_UID_BASE=${uids.base} PYTI_AGENT_SINKHOLE=off node /opt/pyti/agent/agent.mjs`,
    ].join('\n');
    return spawnProcessSandbox(['unshare', '--mount', '--pid', '--fork', '--kill-child', '--', 'bash', '-c', script], { PATH: process.env.PATH ?? '/usr/bin:/bin' }, uids);
  }
}
