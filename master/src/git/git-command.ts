/**
 * Runs git on the master for git subscriptions, and only in ways that run nothing from the repository:
 *
 * - a clean environment: no `GIT_*` variable of the master's own environment, `GIT_TERMINAL_PROMPT=0`
 *   (never ask for a password), `GIT_CONFIG_NOSYSTEM=1` and `GIT_CONFIG_GLOBAL=/dev/null` (no
 *   system or user configuration: no filters, aliases, credential helpers or hooks from there),
 *   ssh in batch mode (`GIT_SSH_COMMAND=ssh -o BatchMode=yes`: it never prompts, unknown hosts fail),
 *   `GIT_NO_LAZY_FETCH=1`, `LC_ALL=C` (messages are classified by git-errors.ts);
 * - `-c protocol.allow=never` and only the repository's own transport allowed (`protocol.<p>.allow=
 *   always`); `core.hooksPath=/dev/null` (no hooks: the mirror is created without them, too),
 *   `core.fsmonitor=false`, `transfer.fsckObjects=true` (malformed objects are refused), no submodules,
 *   no automatic gc or maintenance, no credential helper;
 * - user values (the repository) always after `--`; a time limit (the whole process group is killed);
 *   output capped.
 *
 * Commands that only read the mirror (rev-parse, rev-list, merge-base, cat-file, archive) run no
 * code of the repository's either: `git archive` applies no filter drivers (none is configured) and
 * the commit's `.gitattributes` can only name drivers, not define them.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { killProcessGroup } from '@pyti/common';
import type { GitProtocol } from './git-repo.js';

/** How to run one git command. */
export interface GitRunOptions {
  /** `git -C <dir>`: the bare mirror. */
  gitDir?: string;
  /** The one transport allowed (fetch); absent: none at all. */
  protocol?: GitProtocol;
  timeoutMs: number;
  /** stdout kept (default 1 MiB); beyond it the command is killed and `truncated` set. */
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

/** How a git command ended, with its (capped) output. */
export interface GitRunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  /** The last 64 KiB of stderr. */
  stderr: string;
  timedOut: boolean;
  /** stdout went past maxOutputBytes (the command was killed). */
  truncated: boolean;
}

/** The configuration every git command of a git subscription runs with (`-c k=v` pairs). */
export function gitSafetyConfig(protocol?: GitProtocol): string[] {
  const kv = [
    'protocol.allow=never', ...(protocol ? [`protocol.${protocol}.allow=always`] : []),
    'core.hooksPath=/dev/null', 'core.fsmonitor=false', 'core.askPass=', 'credential.helper=',
    'transfer.fsckObjects=true', 'fetch.recurseSubmodules=false', 'submodule.recurse=false',
    'gc.auto=0', 'maintenance.auto=false', 'fetch.writeCommitGraph=false',
  ];
  return kv.flatMap((x) => ['-c', x]);
}

/** The environment of every git command (see the module comment). */
export function gitEnv(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {
    PATH: base.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: base.HOME ?? '/nonexistent', LANG: 'C', LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_NO_LAZY_FETCH: '1',
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o ConnectTimeout=30', GIT_PROTOCOL_FROM_USER: '0',
  };
  for (const k of ['SSH_AUTH_SOCK', 'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'TMPDIR']) {
    const v = base[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}

/** git's argv for `args` (which must put user values after `--`). */
export function gitArgv(args: string[], opts: Pick<GitRunOptions, 'gitDir' | 'protocol'> = {}): string[] {
  return [...(opts.gitDir ? ['-C', opts.gitDir] : []), ...gitSafetyConfig(opts.protocol), ...args];
}

/** A started git command whose stdout the caller reads (archives). `done` never rejects for git's own failure. */
export interface GitProcess {
  stdout: Readable;
  done: Promise<Omit<GitRunResult, 'stdout' | 'truncated'>>;
  kill(): void;
}

/** Starts git with stdout as a stream. */
export function spawnGit(args: string[], opts: Omit<GitRunOptions, 'maxOutputBytes'>): GitProcess {
  const child = spawn('git', gitArgv(args, opts), { env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  let timedOut = false;
  const kill = (): void => killProcessGroup(child.pid);
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-65536);
  });
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, opts.timeoutMs);
  const onAbort = (): void => kill();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const done = new Promise<Omit<GitRunResult, 'stdout' | 'truncated'>>((resolve) => {
    const finish = (code: number | null, signal: string | null): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ code, signal, stderr, timedOut });
    };
    child.on('error', (err) => {
      stderr += `\n${err.message}`;
      finish(null, null);
    });
    child.on('close', (code, signal) => finish(code, signal));
  });
  return { stdout: child.stdout!, done, kill };
}

/** Runs git to the end, keeping (capped) output. */
export async function runGit(args: string[], opts: GitRunOptions): Promise<GitRunResult> {
  const max = opts.maxOutputBytes ?? 1024 * 1024;
  const p = spawnGit(args, opts);
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  p.stdout.on('data', (d: Buffer) => {
    if (truncated) return;
    size += d.length;
    if (size > max) {
      truncated = true;
      p.kill();
      return;
    }
    chunks.push(d);
  });
  const r = await p.done;
  return { ...r, stdout: Buffer.concat(chunks).toString('utf8'), truncated };
}
