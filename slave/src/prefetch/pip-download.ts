/**
 * One `pip download` run with the guest's own pip, for the guest's interpreter and platform, inside the
 * guest sandbox with the host's network and only the download directory writable.
 *
 * Always `--only-binary=:all:`: pip never builds a dependency or runs its setup.py on the slave (a
 * dependency published only as an sdist fails to resolve, which the report then shows). The pip
 * configuration files of the image are ignored (`PIP_CONFIG_FILE=/dev/null`), and so is its HTTP
 * cache (the wheel cache is the slave's own).
 */
import { basename } from 'node:path';
import type { GuestTags } from './guest-tags.js';
import { runInGuest } from './guest-python.js';

export interface PipDownloadOptions {
  rootfs: string;
  tags: GuestTags;
  /** pip's `--index-url` (`<index>/simple/`). */
  simpleUrl: string;
  /** Host directory pip downloads into (a staging directory of the wheel cache). */
  downloadDir: string;
  /** Screened requirement strings (see requirements.ts). */
  requirements: string[];
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface PipDownloadResult {
  ok: boolean;
  /** File names pip resolved (downloaded now or found already downloaded). */
  files: string[];
  /** pip's own error lines when it failed. */
  error?: string;
  /** The tail of pip's output, for logs. */
  log: string;
}

const GUEST_DIR = '/tmp/dl';

/** pip's command line (inside the guest). */
export function pipDownloadArgv(o: Pick<PipDownloadOptions, 'tags' | 'simpleUrl' | 'requirements'>): string[] {
  const a = [
    'python3', '-I', '-m', 'pip', 'download', '--no-input', '--disable-pip-version-check', '--no-cache-dir', '--progress-bar', 'off',
    '--only-binary=:all:', '--python-version', o.tags.python, '--implementation', o.tags.implementation, '--abi', o.tags.abi,
  ];
  for (const p of o.tags.platforms) a.push('--platform', p);
  a.push('--index-url', o.simpleUrl);
  const u = new URL(o.simpleUrl);
  if (u.protocol === 'http:') a.push('--trusted-host', u.host);
  a.push('--dest', GUEST_DIR, '--', ...o.requirements);
  return a;
}

/** File names in pip's "Saved …" and "File was already downloaded …" lines. */
export function resolvedFiles(output: string): string[] {
  const files: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^\s*(?:Saved|File was already downloaded)\s+(\S+)\s*$/.exec(line);
    if (m && !files.includes(basename(m[1]!))) files.push(basename(m[1]!));
  }
  return files;
}

/** pip's error lines (`ERROR: …` and what follows them), capped. */
export function pipError(stderr: string, stdout: string): string {
  const text = `${stderr}\n${stdout}`;
  const i = text.indexOf('ERROR:');
  const msg = (i >= 0 ? text.slice(i) : text.trim().split('\n').slice(-10).join('\n')).trim();
  return msg.length > 4000 ? `${msg.slice(0, 4000)}…` : msg;
}

/** Runs pip download; a resolution failure is a result (`ok: false`), not an exception. */
export async function pipDownload(o: PipDownloadOptions): Promise<PipDownloadResult> {
  const r = await runInGuest(pipDownloadArgv(o), {
    rootfs: o.rootfs, network: true, binds: [{ host: o.downloadDir, guest: GUEST_DIR, rw: true }], cwd: '/tmp',
    env: { PIP_CONFIG_FILE: '/dev/null', PYTHONDONTWRITEBYTECODE: '1' }, timeoutMs: o.timeoutMs ?? 600_000, signal: o.signal,
  });
  const log = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-40).join('\n');
  const files = resolvedFiles(r.stdout);
  if (r.code === 0) return { ok: true, files, log };
  const error = r.timedOut ? `pip download timed out after ${Math.round((o.timeoutMs ?? 600_000) / 1000)} s` : pipError(r.stderr, r.stdout) || `pip exited with ${r.code ?? r.signal}`;
  return { ok: false, files, error, log };
}
