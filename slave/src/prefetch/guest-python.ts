/**
 * Runs the guest image's own Python on the slave, inside bubblewrap, so that what runs is exactly the
 * guest's interpreter and pip (same version, same tags) without booting a sandbox backend.
 *
 * The sandbox: the guest root filesystem read-only at `/`, fresh /proc, /dev and a tmpfs /tmp (also
 * HOME), a cleared environment, all capabilities dropped, a user namespace mapping the caller to an
 * unprivileged uid, its own PID/IPC/UTS namespaces, and it dies with the slave. Only the directories in
 * `binds` with `rw` are writable. The network is shared with the host only when `network` is set
 * (pip download), and then the host's resolv.conf and hosts are mounted so names resolve.
 *
 * Security: used for pip's resolver and downloads (`--only-binary=:all:`: no package code runs) and
 * for parsing untrusted TOML; output is capped; a timeout or an abort kills the whole process group.
 */
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { killProcessGroup } from '@pyti/common';

export interface GuestBind {
  host: string;
  guest: string;
  rw?: boolean;
}

export interface GuestRunOptions {
  /** The guest root filesystem. */
  rootfs: string;
  binds?: GuestBind[];
  /** Share the host's network (for pip download). Default: no network at all. */
  network?: boolean;
  /** Extra environment (on top of PATH, HOME, LANG). */
  env?: Record<string, string>;
  /** Working directory inside. Default /tmp. */
  cwd?: string;
  stdin?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Output kept per stream. Default 1 MiB. */
  maxOutputBytes?: number;
}

export interface GuestRunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** The bwrap command line that runs `argv` in the guest (exported for tests and readers). */
export function guestArgv(argv: string[], opts: GuestRunOptions): string[] {
  const a = [
    'bwrap', '--unshare-user', '--uid', '65534', '--gid', '65534',
    '--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try',
    ...(opts.network ? [] : ['--unshare-net']),
    '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    '--ro-bind', opts.rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
  ];
  if (opts.network) {
    for (const f of ['/etc/resolv.conf', '/etc/hosts']) if (existsSync(f)) a.push('--ro-bind', realpathSync(f), f);
  }
  for (const b of opts.binds ?? []) a.push(b.rw ? '--bind' : '--ro-bind', b.host, b.guest);
  a.push('--chdir', opts.cwd ?? '/tmp', '--clearenv', '--setenv', 'PATH', '/usr/local/bin:/usr/bin:/bin', '--setenv', 'HOME', '/tmp', '--setenv', 'LANG', 'C.UTF-8');
  for (const [k, v] of Object.entries(opts.env ?? {})) a.push('--setenv', k, v);
  a.push('--', ...argv);
  return a;
}

/** Runs `argv` (e.g. `['python3', '-c', …]`) in the guest; never rejects for the program's own failure. */
export function runInGuest(argv: string[], opts: GuestRunOptions): Promise<GuestRunResult> {
  const [cmd, ...args] = guestArgv(argv, opts);
  const max = opts.maxOutputBytes ?? 1024 * 1024;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason);
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out = { stdout: '', stderr: '' };
    let timedOut = false;
    const keep = (k: 'stdout' | 'stderr') => (d: Buffer): void => {
      if (out[k].length < max) out[k] += d.toString('utf8').slice(0, max - out[k].length);
    };
    child.stdout.on('data', keep('stdout'));
    child.stderr.on('data', keep('stderr'));
    const kill = (): void => killProcessGroup(child.pid);
    const timer = opts.timeoutMs ? setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs) : undefined;
    const onAbort = (): void => kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (opts.signal?.aborted) return reject(opts.signal.reason);
      resolve({ code, signal, ...out, timedOut });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
  });
}
