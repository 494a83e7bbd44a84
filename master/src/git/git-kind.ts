/**
 * The subscription kind `git`: the commits of one branch of one git repository, each built into an
 * sdist and audited (the master's GitPoller follows it; nothing of the index). Its request fields are
 * `repo` (git-repo.ts) and `branch` (git-branch.ts); the stored spec is `{ repo, branch }`.
 * Registered when this module is first imported (`registerGitKind` makes that explicit and idempotent).
 */
import { registerSubscriptionKind, subscriptionKind, type SubscriptionKindDefinition } from '../subscriptions/subscription-kinds.js';
import { checkBranch } from './git-branch.js';
import { checkRepo } from './git-repo.js';

/** The kind's name. */
export const GIT_KIND = 'git';

/** The stored spec of a git subscription. */
export interface GitSpec {
  repo: string;
  branch: string;
}

/** The definition registered for `git`. */
export const gitKind: SubscriptionKindDefinition = {
  describe: 'the commits of a branch of a git repository, each built into an sdist and audited',
  fields: ['repo', 'branch'],
  followsIndex: false,
  parseSpec: (r) => {
    const { repo } = checkRepo(r.repo);
    return { repo, branch: checkBranch(r.branch) } satisfies GitSpec;
  },
  indexMatcher: () => null,
};

/** Registers the kind `git` (once). */
export function registerGitKind(): void {
  if (!subscriptionKind(GIT_KIND)) registerSubscriptionKind(GIT_KIND, gitKind);
}

registerGitKind();

/** The spec of a stored git subscription (checked again: the database is not trusted blindly). */
export function gitSpecOf(spec: Record<string, unknown>): GitSpec {
  return { repo: checkRepo(spec.repo).repo, branch: checkBranch(spec.branch) };
}
