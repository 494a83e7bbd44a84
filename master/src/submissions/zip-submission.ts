/**
 * A seed submission from a zip of several projects (zip-bundle.ts says what counts as a project):
 * every distribution in it is validated exactly as an upload is (`validateDist`: paths, links, sizes,
 * bombs, metadata) and every project directory becomes a real git commit (project-commit.ts) whose
 * archive the slave builds into an sdist as for a git subscription. Only when every item is ready are
 * the audits queued — one per item, in one transaction, grouped in one submission. Any bad item
 * refuses the whole zip with its code and the entry's name, and nothing is queued.
 *
 * Project directories are audited as source kind `git` with repo `zip:<zip file name>`, branch the
 * directory (`.` for the zip's root) and the commit made from the directory's files.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { checkPep440Version, validateDist } from '@pyti/common';
import { BlobTooLargeError, discardTemp, type BlobStore, type TempBlob } from '../blobs/blob-store.js';
import { GitMirror } from '../git/git-mirror.js';
import { repoBaseName } from '../git/git-repo.js';
import { projectNameFromPyproject } from '../git/project-name.js';
import type { Clock } from '../queue/clock.js';
import type { JobQueue, SubmitSource } from '../queue/job-queue.js';
import { DIST_FILENAME } from '../http/request-checks.js';
import { archiveCommit } from './commit-archive.js';
import { commitProject } from './project-commit.js';
import { SubmissionInvalidError } from './submission-errors.js';
import type { SubmissionStore, SubmissionView } from './submission-store.js';
import { DEFAULT_BUNDLE_LIMITS, ZipBundle, type BundleLimits } from './zip-bundle.js';

export interface ZipSubmitterOptions {
  queue: JobQueue;
  blobs: BlobStore;
  store: SubmissionStore;
  clock: Clock;
  /** The master's `<data>/git`: project commits go to `submissions.git` in it. */
  gitDir: string;
  /** Largest distribution or project archive. */
  maxItemBytes: number;
  limits?: BundleLimits;
}

/** Longest project directory path accepted. */
export const MAX_DIR_LENGTH = 200;

interface Ready {
  entry: string;
  source: SubmitSource;
  temp?: TempBlob;
}

/** Turns submission zips into audits (see the module comment). */
export class ZipSubmitter {
  constructor(private readonly opts: ZipSubmitterOptions) {}

  /** Submits the zip at `path` (the caller owns and removes it); `filename` names it in messages and on the page. */
  async submit(path: string, filename: string, sizeBytes: number, o: { priority?: number; backend?: string } = {}): Promise<SubmissionView> {
    const bundle = await ZipBundle.open(path, filename, sizeBytes, this.opts.limits ?? DEFAULT_BUNDLE_LIMITS);
    const ready: Ready[] = [];
    try {
      const tag = randomBytes(6).toString('hex');
      const repoDir = join(this.opts.gitDir, 'submissions.git');
      let n = 0;
      for (const p of bundle.contents.projects) {
        const where = p.dir || '.';
        // The directory is the git job's branch, which the command protocol caps at 255 characters.
        if (where.length > MAX_DIR_LENGTH) throw new SubmissionInvalidError(filename, `project directory ${JSON.stringify(where.slice(0, 80))}… is longer than ${MAX_DIR_LENGTH} characters`);
        const pyproject = p.files.find((f) => f.rel === 'pyproject.toml');
        const text = pyproject ? (await bundle.read(pyproject, 1024 * 1024)).toString('utf8') : null;
        const base = p.dir ? p.dir.replace(/\/$/, '').split('/').pop()! : filename.replace(/\.zip$/i, '');
        const project = (text !== null ? projectNameFromPyproject(text) : null) ?? repoBaseName(base);
        const commit = await commitProject(repoDir, `refs/pyti/zip/${tag}/${n++}`, bundle, p.files, `${filename}: ${where}`, this.opts.clock.now());
        const mirror = new GitMirror(repoDir, { repo: repoDir, protocol: 'file' });
        const archive = await archiveCommit(mirror, commit, this.opts.blobs, this.opts.maxItemBytes);
        ready.push({ entry: p.dir || './', source: { kind: 'git', project, repo: `zip:${filename}`, branch: where, commit, archive } });
      }
      for (const f of bundle.contents.dists) {
        const name = f.name.slice(f.name.lastIndexOf('/') + 1);
        if (!DIST_FILENAME.test(name)) throw new SubmissionInvalidError(filename, `entry ${JSON.stringify(f.name.slice(0, 200))} is not named as a distribution (name-version.tar.gz, .whl or .zip)`);
        const temp = await this.opts.blobs.writeTemp(await bundle.stream(f), this.opts.maxItemBytes, this.opts.blobs.tempPath(name))
          .catch((err: unknown) => {
            if (err instanceof PytiError) throw err;
            if (err instanceof BlobTooLargeError) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${filename}: ${f.name} is larger than ${this.opts.maxItemBytes} bytes`, { cause: err });
            throw new PytiError('PYTI_INPUT_MALFORMED', `${filename}: ${f.name}: ${(err as Error).message}`, { cause: err });
          });
        ready.push({ entry: f.name, temp, source: { kind: 'upload', project: '', version: '', filename: name, sha256: temp.sha256, sizeBytes: temp.sizeBytes } });
        try {
          const dist = await validateDist(temp.path);
          checkPep440Version(dist.version, name);
          ready[ready.length - 1]!.source = { kind: 'upload', project: dist.name, version: dist.version, filename: name, sha256: temp.sha256, sizeBytes: temp.sizeBytes };
        } catch (err) {
          if (err instanceof PytiError) throw new PytiError(err.code, `${filename}: ${f.name}: ${err.message.split(temp.path).join(name)}`, { cause: err });
          throw err;
        }
      }
    } catch (err) {
      for (const r of ready) if (r.temp) discardTemp(r.temp.path);
      throw err;
    } finally {
      bundle.close();
    }
    for (const r of ready) if (r.temp) this.opts.blobs.adopt(r.temp);
    return this.opts.store.create('zip', filename, () => ready.map((r) => ({
      entry: r.entry,
      jobId: this.opts.queue.submit({ source: r.source, priority: o.priority, ...(o.backend ? { backend: o.backend } : {}) }).id,
    })));
  }
}
