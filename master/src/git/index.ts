/** Git subscriptions: the kind `git`, the master's poller and its parts. */
export { GitPoller, type GitPollerOptions } from './git-poller.js';
export { CommitIngest, type CommitIngestOptions, type CommitPollResult } from './commit-ingest.js';
export { planCommits, type CommitPlan } from './commit-plan.js';
export { GitCursors, type GitCursorRow } from './git-cursors.js';
export { GitMirror, COMMIT_ID, type Ancestry, type GitMirrorOptions } from './git-mirror.js';
export { GIT_KIND, gitKind, gitSpecOf, registerGitKind, type GitSpec } from './git-kind.js';
export { checkRepo, repoBaseName, MAX_REPO_LENGTH, type CheckedRepo, type GitProtocol } from './git-repo.js';
export { checkBranch, MAX_BRANCH_LENGTH } from './git-branch.js';
export { gitArgv, gitEnv, gitSafetyConfig, runGit, spawnGit, type GitProcess, type GitRunOptions, type GitRunResult } from './git-command.js';
export { GIT_ERROR_CODES, GitError, type GitErrorCode } from './git-errors.js';
export { projectNameFromPyproject } from './project-name.js';
