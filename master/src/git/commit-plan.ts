/**
 * Which commits of a git subscription's branch one poll audits, from the persisted cursor and the
 * fetched head:
 *
 * - no cursor yet (the subscription was just created): the head only — it is audited once and becomes
 *   the cursor; the branch's history is not audited;
 * - the cursor is the head: nothing;
 * - the cursor is an ancestor of the head: the commits after it, oldest first (`git rev-list --reverse
 *   cursor..head`), at most `max` of them this poll (the next poll continues where this one stopped);
 * - otherwise the branch was rewritten (a force-push; or the mirror lost the cursor's commit): the new
 *   head only, and the plan says so.
 */
import type { GitMirror } from './git-mirror.js';

/** What one poll does. */
export interface CommitPlan {
  /** The commits to audit, oldest first. */
  commits: string[];
  /** Where the cursor goes (the last of `commits`), null when nothing is new. */
  next: string | null;
  /** The cursor was not an ancestor of the head. */
  forcePush: boolean;
  /** More new commits wait for the next poll. */
  more: boolean;
  /** Something worth recording on the subscription (shown by `pyti subscribe show`), or null. */
  note: string | null;
}

const short = (c: string) => c.slice(0, 12);

/** Plans a poll (see the module comment). */
export async function planCommits(mirror: Pick<GitMirror, 'ancestry' | 'commitsSince'>, cursor: string | null, head: string, max: number): Promise<CommitPlan> {
  if (cursor === null) return { commits: [head], next: head, forcePush: false, more: false, note: `started at the head ${short(head)}` };
  if (cursor === head) return { commits: [], next: null, forcePush: false, more: false, note: null };
  const ancestry = await mirror.ancestry(cursor, head);
  if (ancestry !== 'ancestor') {
    const why = ancestry === 'not-ancestor' ? `the branch was rewritten (force-push): ${short(cursor)} is not an ancestor of ${short(head)}`
      : `the mirror no longer has ${short(cursor)}`;
    return { commits: [head], next: head, forcePush: true, more: false, note: `${why}; auditing the new head ${short(head)} only` };
  }
  const all = await mirror.commitsSince(cursor, head);
  if (all.length === 0) return { commits: [], next: head, forcePush: false, more: false, note: null };
  const commits = all.slice(0, Math.max(1, max));
  const more = all.length > commits.length;
  return {
    commits, next: commits[commits.length - 1]!, forcePush: false, more,
    note: more ? `${all.length} new commits: ${commits.length} this poll, the rest in the next ones` : null,
  };
}
