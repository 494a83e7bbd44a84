/**
 * A project directory of a submission zip as a real git commit, so the slave builds its sdist exactly
 * as it builds a git subscription's commit: the files are read from the zip (capped) and written with
 * `git fast-import` into the master's bare repository `<data>/git/submissions.git` (no hooks, no work
 * tree, nothing of the project runs), as one commit under `refs/pyti/zip/<submission>/<n>`; its archive
 * is then made with `git archive` like any other commit's (commit-archive.ts).
 *
 * Names must be plain: no control characters, no `"` (fast-import would need quoting). Modes are
 * 100644, or 100755 when the zip marks the file executable.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { killProcessGroup } from '@pyti/common';
import { gitArgv, gitEnv, runGit } from '../git/git-command.js';
import { gitFailure, gitNotRunnable, gitUnexpected } from '../git/git-errors.js';
import { COMMIT_ID } from '../git/git-mirror.js';
import { SubmissionInvalidError } from './submission-errors.js';
import type { BundleFile, ZipBundle } from './zip-bundle.js';

const TIMEOUT_MS = 120_000;

/** Creates the bare repository unless it exists. */
async function ensureRepo(dir: string): Promise<void> {
  if (existsSync(join(dir, 'HEAD'))) return;
  mkdirSync(dirname(dir), { recursive: true, mode: 0o700 });
  const r = await runGit(['init', '--bare', '--quiet', '--template=', '--', dir], { timeoutMs: TIMEOUT_MS });
  if (r.code === null && r.signal === null && !r.timedOut) throw gitNotRunnable(new Error(r.stderr.trim()));
  if (r.code !== 0) throw gitFailure('git init of the submissions repository', r, TIMEOUT_MS);
}

/**
 * Commits `files` (names relative to the project directory) from `bundle` into `repoDir` under `ref`;
 * resolves to the commit id. Throws PYTI_SUBMISSION_INVALID for a name fast-import cannot take, PYTI_INPUT_* for
 * a file the zip cannot give, PYTI_GIT_* for git's failures.
 */
export async function commitProject(repoDir: string, ref: string, bundle: ZipBundle, files: (BundleFile & { rel: string })[], message: string, nowMs: number): Promise<string> {
  for (const f of files) {
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f"]/.test(f.rel) || f.rel.startsWith(' ')) throw new SubmissionInvalidError(bundle.filename, `entry ${JSON.stringify(f.name.slice(0, 200))}: control characters, quotes or a leading space in a project file's name`);
  }
  await ensureRepo(repoDir);
  const child = spawn('git', gitArgv(['fast-import', '--quiet', '--done'], { gitDir: repoDir }), { env: gitEnv(), stdio: ['pipe', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-65536)));
  const timer = setTimeout(() => killProcessGroup(child.pid), TIMEOUT_MS);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on('error', (err) => {
      stderr += `\n${err.message}`;
      resolve({ code: null, signal: null });
    });
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  const write = (b: string | Buffer) => new Promise<void>((resolve, reject) => child.stdin!.write(b, (err) => (err ? reject(err) : resolve())));
  try {
    const msg = Buffer.from(message);
    const when = Math.floor(nowMs / 1000);
    await write(`commit ${ref}\ncommitter PyTI <pyti@pyti.invalid> ${when} +0000\ndata ${msg.length}\n`);
    await write(Buffer.concat([msg, Buffer.from('\n')]));
    for (const f of files) {
      const data = await bundle.read(f, f.size);
      await write(`M ${f.executable ? '100755' : '100644'} inline ${f.rel}\ndata ${data.length}\n`);
      await write(Buffer.concat([data, Buffer.from('\n')]));
    }
    await write('\ndone\n');
    child.stdin!.end();
  } catch (err) {
    killProcessGroup(child.pid);
    await exited;
    clearTimeout(timer);
    throw err;
  }
  const r = await exited;
  clearTimeout(timer);
  if (r.code === null && r.signal === null) throw gitNotRunnable(new Error(stderr.trim()));
  if (r.code !== 0) throw gitFailure('git fast-import of a project directory', { ...r, stderr, timedOut: false }, TIMEOUT_MS);
  const rev = await runGit(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { gitDir: repoDir, timeoutMs: TIMEOUT_MS });
  const id = rev.stdout.trim();
  if (rev.code !== 0 || !COMMIT_ID.test(id)) throw gitUnexpected(`rev-parse ${ref}`, id);
  return id;
}
