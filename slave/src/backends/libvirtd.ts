/**
 * Talking to libvirt with `virsh` (the npm package `libvirt`, node-libvirt 1.2.1, does not compile
 * on Node 20), and starting the daemons by hand where there is no systemd (CI, containers).
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { commandWorks } from '@pyti/common';

export const DEFAULT_LIBVIRT_URI = 'qemu:///system';

export interface VirshResult {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `virsh -c <uri> <args>` (no shell), with a timeout. */
export function virsh(uri: string, args: string[], timeoutMs = 30000): Promise<VirshResult> {
  return new Promise((resolve) => {
    const p = spawn('virsh', ['-c', uri, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, LC_ALL: 'C' },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    p.on('error', (err) => resolve({ ok: false, code: null, stdout, stderr: `${stderr}${err.message}` }));
    p.on('close', (code) => resolve({ ok: code === 0, code, stdout, stderr }));
  });
}

/** The first `error: …` line virsh printed, without the prefix (or the whole stderr). */
export function virshError(r: VirshResult): string {
  const lines = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const errs = lines.filter((l) => l.startsWith('error:')).map((l) => l.slice(6).trim());
  return (errs.length ? errs.join(': ') : lines.join(' ')) || `virsh exited with ${r.code}`;
}

/**
 * Whether a libvirt URI names this host (no host part, or localhost/this host's name): the agent's
 * channel is a UNIX socket on the libvirt host, so the backend can only drive local daemons.
 */
export function isLocalUri(uri: string): boolean {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(uri);
  if (!m) return false;
  const host = m[1]!.replace(/^[^@]*@/, '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  return host === '' || host === 'localhost' || host === '127.0.0.1' || host === '::1' || host === hostname().toLowerCase();
}

/** Why libvirt cannot be used at `uri`, or null when `virsh -c uri version` answers. */
export async function libvirtUnreachable(uri: string): Promise<string | null> {
  if (!commandWorks('virsh', ['--version'])) return 'virsh is not installed: apt-get install libvirt-clients';
  const r = await virsh(uri, ['version'], 20000);
  if (r.ok) return null;
  const why = virshError(r);
  const local = isLocalUri(uri);
  if (local && !existsSync('/usr/sbin/libvirtd') && !commandWorks('libvirtd', ['--version'])) {
    return `libvirtd is not installed (virsh -c ${uri}: ${why}): apt-get install libvirt-daemon libvirt-daemon-driver-qemu`;
  }
  if (/no connection driver available/i.test(why)) {
    return `libvirt has no QEMU driver (virsh -c ${uri}: ${why}): apt-get install libvirt-daemon-driver-qemu`;
  }
  return `libvirtd is not reachable at ${uri}: ${why}${local ? ' (start it: `systemctl start libvirtd`, or without systemd `virtlogd -d; libvirtd -d`)' : ''}`;
}

function sh(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', (e) => resolve({ code: null, out: e.message }));
    p.on('close', (code) => resolve({ code, out }));
  });
}

/** The user the QEMU driver runs guests as: `user = "…"` in qemu.conf, else Debian's default. */
function qemuUser(): { user: string; group: string } {
  let user = 'libvirt-qemu';
  let group: string | undefined;
  try {
    const conf = readFileSync('/etc/libvirt/qemu.conf', 'utf8');
    user = /^\s*user\s*=\s*"([^"]+)"/m.exec(conf)?.[1] ?? user;
    group = /^\s*group\s*=\s*"([^"]+)"/m.exec(conf)?.[1];
  } catch {
    /* no qemu.conf: libvirt's built-in defaults */
  }
  return { user, group: group ?? (user === 'libvirt-qemu' ? 'libvirt-qemu' : user) };
}

async function exists(kind: 'passwd' | 'group', name: string): Promise<boolean> {
  return (await sh('getent', [kind, name])).code === 0;
}

/**
 * What Debian's libvirt-daemon-system package and udev would have set up, for hosts that have only
 * libvirt-daemon (CI installs it without recommends, and has no systemd or udev):
 * - the directories the daemons log to and keep state in;
 * - the unprivileged user and group the QEMU driver runs guests as (`libvirt-qemu`; libvirtd's QEMU
 *   driver refuses to start without it);
 * - /dev/kvm readable and writable by group `kvm`, with that user in the group. Without it, libvirt
 *   sees KVM when it probes QEMU's capabilities but not when it checks them, so it re-probes QEMU on
 *   every call (measured here: 60 s per `virsh create`). PyTI still chooses TCG or KVM by booting.
 * Returns what it changed.
 */
export async function prepareLibvirtHost(): Promise<string[]> {
  const done: string[] = [];
  for (const d of ['/var/log/libvirt', '/var/log/libvirt/qemu', '/var/lib/libvirt', '/var/cache/libvirt', '/run/libvirt']) {
    if (!existsSync(d)) {
      mkdirSync(d, { recursive: true, mode: 0o755 });
      done.push(`mkdir ${d}`);
    }
  }
  const { user, group } = qemuUser();
  if (user !== 'root') {
    if (!(await exists('group', group))) {
      await sh('groupadd', ['--system', group]);
      done.push(`groupadd ${group}`);
    }
    if (!(await exists('passwd', user))) {
      const r = await sh('useradd', ['--system', '--gid', group, '--home-dir', '/var/lib/libvirt', '--no-create-home', '--shell', '/usr/sbin/nologin', '--comment', 'Libvirt Qemu', user]);
      if (r.code !== 0) throw new Error(`useradd ${user} failed: ${r.out.trim()}`);
      done.push(`useradd ${user}`);
    }
  }
  if (existsSync('/dev/kvm') && user !== 'root') {
    if (!(await exists('group', 'kvm'))) {
      await sh('groupadd', ['--system', 'kvm']);
      done.push('groupadd kvm');
    }
    const st = statSync('/dev/kvm');
    const kvmGid = Number((await sh('getent', ['group', 'kvm'])).out.split(':')[2]);
    if (st.gid !== kvmGid || (st.mode & 0o060) !== 0o060) {
      await sh('chgrp', ['kvm', '/dev/kvm']);
      chmodSync('/dev/kvm', 0o660);
      done.push('chgrp kvm /dev/kvm; chmod 0660 /dev/kvm');
    }
    if (!(await sh('id', ['-nG', user])).out.split(/\s+/).includes('kvm')) {
      await sh('usermod', ['-a', '-G', 'kvm', user]);
      done.push(`usermod -a -G kvm ${user}`);
    }
  }
  return done;
}

/**
 * Makes sure libvirtd answers at `uri` (local `qemu:///system` only): when `virsh -c uri version`
 * fails, prepares the host (prepareLibvirtHost), starts `virtlogd -d` and `libvirtd -d`, and waits
 * until virsh answers. For tests and CI, where nothing else starts the daemons; needs root.
 */
export async function ensureLibvirtd(uri = DEFAULT_LIBVIRT_URI, timeoutMs = 60000, log: (line: string) => void = () => undefined): Promise<void> {
  if ((await virsh(uri, ['version'], 20000)).ok) return;
  if (!/^qemu(\+unix)?:\/\/\/system(\?.*)?$/.test(uri)) throw new Error(`cannot start libvirtd for ${uri}: only qemu:///system is started by PyTI`);
  if (process.getuid?.() !== 0) throw new Error('starting libvirtd needs root');
  for (const step of await prepareLibvirtHost()) log(`libvirt host set-up: ${step}`);
  // Each daemon refuses to start twice (pid file lock): a running one is left alone.
  const vl = await sh('virtlogd', ['-d']);
  log(`virtlogd -d: exit ${vl.code}${vl.out.trim() ? `: ${vl.out.trim()}` : ''}`);
  const ld = await sh('libvirtd', ['-d']);
  log(`libvirtd -d: exit ${ld.code}${ld.out.trim() ? `: ${ld.out.trim()}` : ''}`);
  const deadline = Date.now() + timeoutMs;
  let last: VirshResult | undefined;
  while (Date.now() < deadline) {
    last = await virsh(uri, ['version'], 20000);
    if (last.ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  let tail = '';
  try {
    tail = readFileSync('/var/log/libvirt/libvirtd.log', 'utf8').split('\n').filter((l) => / error : /.test(l)).slice(-5).join('\n');
  } catch {
    /* no log */
  }
  throw new Error(`libvirtd did not answer at ${uri} within ${timeoutMs} ms: ${last ? virshError(last) : ''}${tail ? `\n${tail}` : ''}`);
}
