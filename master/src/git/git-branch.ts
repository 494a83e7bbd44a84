/**
 * The branch of a git subscription, checked by git itself: `git check-ref-format --branch NAME` (the
 * rules of `git branch`: no `..`, no `~^:?*[\`, no control characters or spaces, no leading `-`,
 * no `.lock` ending, …), after a first screen that keeps anything option-like or `@{…}` (which
 * `--branch` would expand against some repository's reflog) from reaching git at all. The name git
 * prints is the one stored. PYTI_SUBSCRIPTION_INVALID names the field `branch`.
 */
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { SubscriptionInvalidError } from '../subscriptions/subscription-errors.js';
import { gitArgv, gitEnv } from './git-command.js';
import { gitNotRunnable } from './git-errors.js';

/** The longest branch name accepted. */
export const MAX_BRANCH_LENGTH = 255;

function invalid(why: string): never {
  throw new SubscriptionInvalidError('branch', why);
}

/** Checks a branch name (see the module comment); returns it as git normalizes it. */
export function checkBranch(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) invalid('must be the name of a branch, e.g. main');
  const show = JSON.stringify(v.slice(0, 80));
  if (v.length > MAX_BRANCH_LENGTH) invalid(`is longer than ${MAX_BRANCH_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(v)) invalid(`${show} has white space or control characters`);
  if (v.startsWith('-')) invalid(`${show} starts with "-"`);
  if (v.includes('@{') || v === '@' || v === 'HEAD' || v.startsWith('refs/')) invalid(`${show} is not a plain branch name (no @{…}, HEAD or refs/…)`);
  const r = spawnSync('git', gitArgv(['check-ref-format', '--branch', v]), { env: gitEnv(), cwd: tmpdir(), encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw gitNotRunnable(r.error);
  if (r.status !== 0) invalid(`${show} is not a valid branch name (git check-ref-format --branch refuses it)`);
  const name = r.stdout.trim();
  if (!name || name !== v.replace(/^refs\/heads\//, '')) invalid(`${show} is not a plain branch name`);
  return name;
}
