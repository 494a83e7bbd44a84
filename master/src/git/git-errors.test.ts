// The PYTI_GIT_* codes: every such code written anywhere (sources and documentation) is in the one
// registry, and every one of them is produced from what git reports.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '@pyti/vm-agent';
import { GIT_ERROR_CODES, asPytiError, gitFailure, gitNotRunnable, gitTooLarge, gitUnexpected, type GitExit } from './git-errors.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (n === 'node_modules' || n === 'dist' || n === 'bundle' || n.startsWith('.')) return [];
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mjs|py|sh|md)$/.test(n) ? [p] : [];
  });
}

const exit = (stderr: string, more: Partial<GitExit> = {}): GitExit => ({ code: 128, signal: null, stderr, timedOut: false, ...more });

describe('PYTI_GIT_* error codes', () => {
  it('every code written anywhere is in the one registry', () => {
    const root = new URL('../../../', import.meta.url).pathname;
    const used = new Set<string>();
    for (const f of [join(root, 'README.md'), ...['vm-agent', 'tasks', 'images', 'common', 'slave', 'master', 'test'].flatMap((w) => files(join(root, w)))]) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\bPYTI_GIT_[A-Z_]*[A-Z]\b/g)) used.add(m[0]);
    }
    expect([...used].filter((c) => !(c in ERROR_CODES))).toEqual([]);
    expect(Object.keys(GIT_ERROR_CODES).length).toBe(5);
  });

  it('classifies what git reports', () => {
    const produced = new Set([
      gitFailure('fetch', exit("fatal: couldn't find remote ref refs/heads/dev"), 1000, true),
      gitFailure('fetch', exit("fatal: '/srv/x' does not appear to be a git repository\nfatal: Could not read from remote repository."), 1000, true),
      gitFailure('fetch', exit('fatal: unable to access \'https://example.invalid/x/\': Could not resolve host: example.invalid'), 1000, true),
      gitFailure('fetch', exit('', { code: null, signal: 'SIGKILL', timedOut: true }), 600_000, true),
      gitFailure('archive', exit('fatal: not a valid object name'), 1000),
      gitTooLarge('the archive of commit abc', 10),
      gitUnexpected('rev-parse', 'xyz'),
      gitNotRunnable(new Error('spawn git ENOENT')),
      asPytiError(new Error('disk full')),
    ].map((e) => [e.code, e.message] as const));
    expect([...produced]).toEqual([
      ['PYTI_GIT_BRANCH_NOT_FOUND', "fetch: the repository has no such branch (fatal: couldn't find remote ref refs/heads/dev)"],
      ['PYTI_GIT_UNREACHABLE', "fetch: fatal: '/srv/x' does not appear to be a git repository | fatal: Could not read from remote repository."],
      ['PYTI_GIT_UNREACHABLE', expect.stringMatching(/Could not resolve host/)],
      ['PYTI_GIT_TIMEOUT', 'fetch: killed after 600 s'],
      ['PYTI_GIT_FAILED', 'archive: fatal: not a valid object name'],
      ['PYTI_GIT_TOO_LARGE', 'the archive of commit abc is larger than 10 bytes'],
      ['PYTI_GIT_FAILED', 'rev-parse: unexpected output "xyz"'],
      ['PYTI_GIT_FAILED', expect.stringMatching(/git could not be run on the master .*ENOENT/)],
      ['PYTI_GIT_FAILED', 'disk full'],
    ]);
    expect(new Set([...produced].map(([c]) => c))).toEqual(new Set(Object.keys(GIT_ERROR_CODES)));
  });
});
