// The slave checks the shape of the master's answers; here the git source of a leased job.
import { checkCommandResult } from './command-results.js';

const job = (source: unknown) => ({ jobs: [{ jobId: 'a1', leaseId: 'l1', attempt: 1, source, backend: 'bwrap', leaseExpiresAt: 1 }] });
const git = {
  kind: 'git', project: 'pyti-gitpkg', repo: '/srv/repos/app', branch: 'main', commit: 'c'.repeat(40), archive: { sha256: 'd'.repeat(64), sizeBytes: 1234 },
};

describe('a leased git job', () => {
  it('is taken with its repository, branch, commit and archive', () => {
    expect(checkCommandResult('jobs.lease', job({ ...git, extra: 'dropped' })).jobs[0]!.source).toEqual(git);
  });

  it.each([
    [{ commit: 'C'.repeat(40) }, /commit is not a commit id/],
    [{ commit: 'c'.repeat(39) }, /commit is not a commit id/],
    [{ commit: undefined }, /commit is not a string/],
    [{ archive: { sha256: 'x', sizeBytes: 1 } }, /archive\.sha256 is not a lower-case hex sha256/],
    [{ archive: { sha256: 'd'.repeat(64), sizeBytes: 0 } }, /archive\.sizeBytes is not an integer ≥ 1/],
    [{ archive: null }, /archive is not an object/],
    [{ repo: '/srv/app\n--upload-pack=x' }, /control characters/],
    [{ branch: 'b'.repeat(300) }, /branch is not a string of 1\.\.255/],
    [{ project: '' }, /project is not a string/],
    [{ kind: 'svn' }, /kind is not "index", "upload" or "git"/],
  ])('is refused as PYTI_RPC_INVALID when %j', (change, why) => {
    expect(() => checkCommandResult('jobs.lease', job({ ...git, ...change }))).toThrow(expect.objectContaining({ code: 'PYTI_RPC_INVALID', message: expect.stringMatching(why) }));
  });
});
