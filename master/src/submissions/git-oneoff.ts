/**
 * A one-off audit of a git repository at a ref (`pyti submit --git URL --ref REF`,
 * `POST /api/v1/submissions/git`): the repository and ref are checked as git subscriptions check theirs
 * (git-repo.ts: one transport, nothing option-like), the ref is resolved with `git ls-remote`
 * (a branch, a tag — annotated tags are peeled — or a full `refs/…` name) or, failing that, as a commit
 * id or prefix (7–40 hex digits) after fetching the branches and tags; the commit is fetched into a
 * bare mirror kept per repository (`<data>/git/submit-<hash>.git`, no hooks), its project named from
 * its pyproject.toml (or the repository's name), its archive stored as a blob, and one git audit queued
 * in a submission of kind `git`. Nothing of the repository runs on the master (git-command.ts).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { BlobStore } from '../blobs/blob-store.js';
import { runGit } from '../git/git-command.js';
import { gitFailure, gitNotRunnable, gitUnexpected } from '../git/git-errors.js';
import { COMMIT_ID, GitMirror } from '../git/git-mirror.js';
import { checkRepo, repoBaseName, type CheckedRepo } from '../git/git-repo.js';
import { projectNameFromPyproject } from '../git/project-name.js';
import type { JobQueue } from '../queue/job-queue.js';
import { archiveCommit } from './commit-archive.js';
import { SubmissionInvalidError } from './submission-errors.js';
import type { SubmissionStore, SubmissionView } from './submission-store.js';

/** The body of `POST /api/v1/submissions/git`. */
export interface GitSubmitRequest {
  repo: string;
  ref: string;
  priority?: number;
  backend?: string;
}

export interface GitOneOffOptions {
  queue: JobQueue;
  blobs: BlobStore;
  store: SubmissionStore;
  /** `<data>/git`. */
  mirrorsDir: string;
  maxArchiveBytes: number;
  fetchTimeoutMs?: number;
  gitTimeoutMs?: number;
  signal?: AbortSignal;
}

const HEX_PREFIX = /^[0-9a-fA-F]{7,40}$/;

/** Checks a ref: a branch, tag, `refs/…` name or commit id; PYTI_SUBMISSION_INVALID naming `ref`. */
export function checkRef(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new SubmissionInvalidError('ref', 'must be a branch, a tag or a commit id');
  const show = JSON.stringify(v.slice(0, 80));
  if (v.length > 255) throw new SubmissionInvalidError('ref', 'is longer than 255 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(v)) throw new SubmissionInvalidError('ref', `${show} has white space, control characters or one of ~^:?*[\\`);
  if (v.startsWith('-') || v.startsWith('/') || v.endsWith('/') || v.includes('..') || v.includes('@{') || v.includes('//') || v.endsWith('.lock') || v === '@') {
    throw new SubmissionInvalidError('ref', `${show} is not a branch, tag or commit name`);
  }
  return v;
}

/** Submits one-off git audits (see the module comment). */
export class GitOneOff {
  /** Per mirror: the chain of git work on it (one at a time). */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: GitOneOffOptions) {}

  /** Resolves, archives and queues; throws PYTI_SUBMISSION_INVALID or PYTI_GIT_*. */
  async submit(req: GitSubmitRequest): Promise<SubmissionView> {
    let checked: CheckedRepo;
    try {
      checked = checkRepo(req.repo);
    } catch (err) {
      throw new SubmissionInvalidError('repo', (err as Error).message.replace(/^repo: /, ''));
    }
    const ref = checkRef(req.ref);
    const dir = join(this.opts.mirrorsDir, `submit-${createHash('sha256').update(checked.repo).digest('hex').slice(0, 16)}.git`);
    const prev = this.busy.get(dir) ?? Promise.resolve();
    const work = prev.catch(() => undefined).then(() => this.prepare(dir, checked, ref));
    this.busy.set(dir, work);
    try {
      const { commit, project, archive } = await work;
      return this.opts.store.create('git', `${checked.repo} ${ref}`, () => {
        const job = this.opts.queue.submit({
          source: { kind: 'git', project, repo: checked.repo, branch: ref, commit, archive },
          priority: req.priority, ...(req.backend ? { backend: req.backend } : {}),
        });
        return [{ entry: ref, jobId: job.id }];
      });
    } finally {
      if (this.busy.get(dir) === work) this.busy.delete(dir);
    }
  }

  private async prepare(dir: string, repo: CheckedRepo, ref: string): Promise<{ commit: string; project: string; archive: { sha256: string; sizeBytes: number } }> {
    const mirror = new GitMirror(dir, repo, { fetchTimeoutMs: this.opts.fetchTimeoutMs, timeoutMs: this.opts.gitTimeoutMs, signal: this.opts.signal });
    await mirror.ensure();
    const commit = await this.resolve(mirror, repo, ref);
    const text = await mirror.fileAt(commit, 'pyproject.toml');
    const project = (text !== null ? projectNameFromPyproject(text) : null) ?? repoBaseName(repo.repo);
    return { commit, project, archive: await archiveCommit(mirror, commit, this.opts.blobs, this.opts.maxArchiveBytes) };
  }

  private async git(mirror: GitMirror, what: string, args: string[], fetch = false) {
    const timeoutMs = fetch ? mirror.fetchTimeoutMs : mirror.timeoutMs;
    const r = await runGit(args, { gitDir: mirror.dir, timeoutMs, signal: this.opts.signal, ...(fetch ? { protocol: mirror.repo.protocol } : {}), maxOutputBytes: 16 * 1024 * 1024 });
    if (r.code === null && r.signal === null && !r.timedOut) throw gitNotRunnable(new Error(r.stderr.trim()));
    if (r.code !== 0) throw gitFailure(what, r, timeoutMs, fetch);
    return r;
  }

  /** The commit `ref` names in the repository (see the module comment). */
  private async resolve(mirror: GitMirror, repo: CheckedRepo, ref: string): Promise<string> {
    const listed = await this.git(mirror, `listing the refs of ${repo.repo}`, ['ls-remote', '--', repo.repo], true);
    const refs = new Map<string, string>();
    for (const line of listed.stdout.split('\n')) {
      const [id, name] = line.split('\t');
      if (id && name && COMMIT_ID.test(id)) refs.set(name, id);
    }
    const candidates = ref.startsWith('refs/') ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`];
    const found = candidates.find((c) => refs.has(c));
    if (found) {
      await this.git(mirror, `fetching ${found} of ${repo.repo}`, [
        'fetch', '--quiet', '--no-tags', '--no-recurse-submodules', '--no-write-fetch-head', '--force', '--', repo.repo, `+${found}:refs/pyti/submit`,
      ], true);
      return mirror.resolve('refs/pyti/submit');
    }
    if (!HEX_PREFIX.test(ref)) throw new SubmissionInvalidError('ref', `${repo.repo} has no branch or tag named ${JSON.stringify(ref)}`);
    await this.git(mirror, `fetching the branches and tags of ${repo.repo}`, [
      'fetch', '--quiet', '--no-tags', '--no-recurse-submodules', '--no-write-fetch-head', '--force', '--', repo.repo,
      '+refs/heads/*:refs/pyti/heads/*', '+refs/tags/*:refs/pyti/tags/*',
    ], true);
    const r = await runGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref.toLowerCase()}^{commit}`], { gitDir: mirror.dir, timeoutMs: mirror.timeoutMs, signal: this.opts.signal });
    const id = r.stdout.trim();
    if (r.code !== 0 || !id) throw new SubmissionInvalidError('ref', `no commit ${JSON.stringify(ref)} on a branch or tag of ${repo.repo} (or the prefix is ambiguous)`);
    if (!COMMIT_ID.test(id)) throw gitUnexpected('rev-parse', id);
    return id;
  }
}
