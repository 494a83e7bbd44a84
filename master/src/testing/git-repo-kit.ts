/**
 * A real git repository for tests of git subscriptions: created with `git init`, committed to with a
 * fixed author and dates, rewritten (a force-push) with `git reset --hard`. Only for repositories the
 * test itself makes (the test's git runs with the test's own configuration).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export class TestGitRepo {
  private tick = 0;

  /** Makes an empty repository at `dir` whose first branch is `branch`. */
  constructor(readonly dir: string, readonly branch = 'main') {
    mkdirSync(dir, { recursive: true });
    this.git('init', '--quiet', '--initial-branch', branch);
  }

  /** Runs git in the repository with a fixed identity and dates; returns its stdout. */
  git(...args: string[]): string {
    const when = `${1_700_000_000 + this.tick++ * 60} +0000`;
    return execFileSync('git', ['-c', 'user.name=PyTI Test', '-c', 'user.email=test@pyti.invalid', '-c', 'commit.gpgsign=false', '-C', this.dir, ...args], {
      encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_DATE: when, GIT_COMMITTER_DATE: when },
    });
  }

  /** Writes files (path → text), relative to the repository. */
  write(files: Record<string, string>): void {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(this.dir, path)), { recursive: true });
      writeFileSync(join(this.dir, path), text);
    }
  }

  /** Copies a directory's contents into the repository. */
  copyFrom(src: string): void {
    cpSync(src, this.dir, { recursive: true });
  }

  /** Commits everything (with the given files written first); returns the new commit id. */
  commit(message: string, files: Record<string, string> = {}): string {
    this.write(files);
    this.git('add', '--all');
    this.git('commit', '--quiet', '--allow-empty', '-m', message);
    return this.head();
  }

  /** The branch's commit. */
  head(): string {
    return this.git('rev-parse', 'HEAD').trim();
  }

  /** Moves the branch back `n` commits (what a force-push leaves behind). */
  rewind(n: number): string {
    this.git('reset', '--quiet', '--hard', `HEAD~${n}`);
    return this.head();
  }
}
