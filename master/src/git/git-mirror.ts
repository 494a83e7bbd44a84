/**
 * The master's bare mirror of one git subscription's repository, `<data>/git/<subscription id>.git`:
 * created without hooks (`git init --bare --template=`), it holds the followed branch under the
 * private ref `refs/pyti/head` (force-updated by every fetch, so a rewritten branch is followed) and the
 * cursor's commit under `refs/pyti/cursor` (so it is never pruned and a force-push can still be
 * recognized). Every command goes through git-command.ts (no code of the repository runs; time limits;
 * capped output); failures are GitErrors (git-errors.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runGit, spawnGit, type GitProcess, type GitRunOptions, type GitRunResult } from './git-command.js';
import { gitFailure, gitNotRunnable, gitTooLarge, gitUnexpected } from './git-errors.js';
import type { CheckedRepo } from './git-repo.js';

/** A full commit id. */
export const COMMIT_ID = /^[0-9a-f]{40}$/;

/** Time limits and cancellation of a mirror's git commands. */
export interface GitMirrorOptions {
  /** Time limit of a fetch (default 10 min). */
  fetchTimeoutMs?: number;
  /** Time limit of the other commands (default 2 min). */
  timeoutMs?: number;
  /** Aborting kills the command in flight (the master is closing). */
  signal?: AbortSignal;
}

/** How the cursor relates to the fetched head. */
export type Ancestry = 'ancestor' | 'not-ancestor' | 'unknown';

/** One subscription's bare mirror (see the module comment). */
export class GitMirror {
  /** Time limit of fetches and archives. */
  readonly fetchTimeoutMs: number;
  /** Time limit of the other commands. */
  readonly timeoutMs: number;

  private readonly signal?: AbortSignal;

  constructor(readonly dir: string, readonly repo: CheckedRepo, opts: GitMirrorOptions = {}) {
    this.fetchTimeoutMs = opts.fetchTimeoutMs ?? 600_000;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.signal = opts.signal;
  }

  private async git(what: string, args: string[], opts: Partial<GitRunOptions> = {}): Promise<GitRunResult> {
    const r = await runGit(args, { gitDir: this.dir, timeoutMs: this.timeoutMs, signal: this.signal, ...opts });
    if (r.code === null && r.signal === null && !r.timedOut) throw gitNotRunnable(new Error(r.stderr.trim()));
    return r;
  }

  /** Creates the bare mirror unless it exists. */
  async ensure(): Promise<void> {
    if (existsSync(join(this.dir, 'HEAD'))) return;
    mkdirSync(dirname(this.dir), { recursive: true, mode: 0o700 });
    const r = await runGit(['init', '--bare', '--quiet', '--template=', '--', this.dir], { timeoutMs: this.timeoutMs, signal: this.signal });
    if (r.code === null && r.signal === null && !r.timedOut) throw gitNotRunnable(new Error(r.stderr.trim()));
    if (r.code !== 0) throw gitFailure('git init of the mirror', r, this.timeoutMs);
  }

  /** Fetches `branch` into refs/pyti/head; resolves to its commit. */
  async fetch(branch: string): Promise<string> {
    const r = await this.git(`fetching ${this.repo.repo} ${branch}`, [
      'fetch', '--quiet', '--no-tags', '--no-recurse-submodules', '--no-write-fetch-head', '--force', '--', this.repo.repo,
      `+refs/heads/${branch}:refs/pyti/head`,
    ], { protocol: this.repo.protocol, timeoutMs: this.fetchTimeoutMs });
    if (r.code !== 0) throw gitFailure(`fetching branch ${branch} of ${this.repo.repo}`, r, this.fetchTimeoutMs, true);
    return this.resolve('refs/pyti/head');
  }

  /** The commit a ref of the mirror points at. */
  async resolve(ref: string): Promise<string> {
    const r = await this.git('rev-parse', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
    if (r.code !== 0) throw gitFailure(`resolving ${ref}`, r, this.timeoutMs);
    const id = r.stdout.trim();
    if (!COMMIT_ID.test(id)) throw gitUnexpected(`resolving ${ref}`, id);
    return id;
  }

  /** Whether `old` is an ancestor of `head` (`unknown`: the mirror does not have `old`). */
  async ancestry(old: string, head: string): Promise<Ancestry> {
    const r = await this.git('merge-base', ['merge-base', '--is-ancestor', old, head]);
    if (r.code === 0) return 'ancestor';
    if (r.code === 1) return 'not-ancestor';
    if (r.timedOut) throw gitFailure('merge-base --is-ancestor', r, this.timeoutMs);
    return 'unknown';
  }

  /** The commits after `old` up to `head`, oldest first (`git rev-list --reverse old..head`). */
  async commitsSince(old: string, head: string, maxListed = 200_000): Promise<string[]> {
    const r = await this.git('rev-list', ['rev-list', '--reverse', `${old}..${head}`], { maxOutputBytes: maxListed * 41 });
    if (r.truncated) throw gitTooLarge(`the list of commits after ${old.slice(0, 12)}`, maxListed * 41);
    if (r.code !== 0) throw gitFailure(`listing the commits ${old.slice(0, 12)}..${head.slice(0, 12)}`, r, this.timeoutMs);
    const ids = r.stdout.split('\n').filter(Boolean);
    for (const id of ids) if (!COMMIT_ID.test(id)) throw gitUnexpected('rev-list', id);
    return ids;
  }

  /** A file of a commit's tree as text (`git cat-file blob commit:path`), or null when absent or larger than `maxBytes`. */
  async fileAt(commit: string, path: string, maxBytes = 1024 * 1024): Promise<string | null> {
    if (!COMMIT_ID.test(commit)) throw gitUnexpected('fileAt', commit);
    const r = await this.git('cat-file', ['cat-file', 'blob', `${commit}:${path}`], { maxOutputBytes: maxBytes });
    if (r.truncated || r.code !== 0) {
      if (r.timedOut) throw gitFailure(`reading ${path} of ${commit.slice(0, 12)}`, r, this.timeoutMs);
      return null;
    }
    return r.stdout;
  }

  /** Starts `git archive --format=tar.gz --prefix=<prefix>/ <commit>`; the caller reads stdout and awaits `done`. */
  archive(commit: string, prefix: string): GitProcess {
    if (!COMMIT_ID.test(commit)) throw gitUnexpected('archive', commit);
    return spawnGit(['archive', '--format=tar.gz', `--prefix=${prefix}/`, commit], { gitDir: this.dir, timeoutMs: this.fetchTimeoutMs, signal: this.signal });
  }

  /** Points refs/pyti/cursor at `commit` (keeps it from being pruned). */
  async keep(commit: string): Promise<void> {
    const r = await this.git('update-ref', ['update-ref', 'refs/pyti/cursor', commit]);
    if (r.code !== 0) throw gitFailure(`update-ref refs/pyti/cursor ${commit.slice(0, 12)}`, r, this.timeoutMs);
  }
}
