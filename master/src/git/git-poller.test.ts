// The git poller against real repositories with real git: the head audited once at creation, new
// commits oldest first, nothing new, a force-push, a restart, a poll that fails half-way, errors
// recorded on the subscription, pause and backlog, and nothing of the repository run on the master.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateTarGz, outsidePrefix } from '@pyti/common';
import { BlobStore } from '../blobs/blob-store.js';
import { openDatabase, type Db } from '../db/database.js';
import { ManualClock } from '../queue/clock.js';
import { JobQueue } from '../queue/job-queue.js';
import { checkCreate } from '../subscriptions/subscription-request.js';
import { SubscriptionStore } from '../subscriptions/subscription-store.js';
import { TestGitRepo } from '../testing/git-repo-kit.js';
import { GitCursors } from './git-cursors.js';
import { GitPoller } from './git-poller.js';

jest.setTimeout(60_000);

const PYPROJECT = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "pyti-gitpkg"\nversion = "0.1.0"\n';

describe('git poller (real git)', () => {
  let dir: string;
  let db: Db;
  let queue: JobQueue;
  let blobs: BlobStore;
  let store: SubscriptionStore;
  let repo: TestGitRepo;
  const clock = new ManualClock();
  const lines: string[] = [];

  const newPoller = (max = 50) => new GitPoller({
    db, queue, blobs, clock, mirrorsDir: join(dir, 'git'), everyMs: 60_000, maxArchiveBytes: 10 * 1024 * 1024, maxCommitsPerPoll: max,
    log: (l) => lines.push(l),
  });
  /** The git audits of the database, oldest first: [commit, project]. */
  const gitAudits = () => queue.list({ limit: 500 }).filter((a) => a.source === 'git').reverse().map((a) => [a.git!.commit, a.project]);
  const subscribe = (name: string, extra: Record<string, unknown> = {}) => store.create(checkCreate({ name, kind: 'git', repo: repo.dir, branch: 'main', ...extra }));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-git-poller-'));
    db = openDatabase(join(dir, 'master.db'));
    queue = new JobQueue(db, { leaseMs: 60_000, maxWaitMs: 0, maxAttempts: 3, defaultBackend: 'bwrap', clock, sweepIntervalMs: 0 });
    blobs = new BlobStore(join(dir, 'blobs'), join(dir, 'tmp'));
    store = new SubscriptionStore(db, queue, clock, (row) => (row.kind === 'git' ? { git: new GitCursors(db, clock).status(row.id) } : {}));
    repo = new TestGitRepo(join(dir, 'repo'));
    repo.commit('first', { 'pyproject.toml': PYPROJECT, 'pkg/__init__.py': '' });
    lines.length = 0;
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('audits the head once when the subscription is new, with its archive, and then only new commits, oldest first', async () => {
    repo.commit('second', { 'pkg/__init__.py': 'X = 2\n' });
    const head = repo.head();
    subscribe('app', { priority: 7, backend: 'qemu' });
    const poller = newPoller();
    await poller.pollAll();
    expect(gitAudits()).toEqual([[head, 'pyti-gitpkg']]);
    const [job] = queue.list();
    expect(job).toMatchObject({ source: 'git', version: head, priority: 7, backend: 'qemu', git: { repo: repo.dir, branch: 'main', commit: head } });
    expect(poller.cursors.status(1)).toMatchObject({ cursor: head, head, commitsAudited: 1, lastError: null, lastNote: { text: expect.stringMatching(/^started at the head/) } });

    // The slave gets the archive as the lease's source: a tar.gz of the commit under source/, which its checks accept.
    const leased = queue.leaseNow((queue.register('s', { protocolVersion: 1, version: 't', host: 'h', capabilities: { backends: ['qemu'], python: '3.11', platforms: [], implementation: 'cp', abi: 'cp311', concurrency: 1 } }), 's'), 1);
    expect(leased[0]!.source).toMatchObject({ kind: 'git', project: 'pyti-gitpkg', repo: repo.dir, branch: 'main', commit: head, archive: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    const src = leased[0]!.source as { archive: { sha256: string; sizeBytes: number } };
    const archive = blobs.pathOf(src.archive.sha256);
    expect(execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).split('\n').filter(Boolean).sort()).toEqual(['source/', 'source/pkg/', 'source/pkg/__init__.py', 'source/pyproject.toml']);
    expect((await validateTarGz(archive, undefined, outsidePrefix)).sizeBytes).toBe(src.archive.sizeBytes);
    expect(queue.mayFetchUpload('s', src.archive.sha256)).toBe(true);

    await poller.pollAll(); // nothing new
    expect(gitAudits()).toHaveLength(1);

    const c3 = repo.commit('third', { 'a.txt': '3' });
    const c4 = repo.commit('fourth', { 'a.txt': '4' });
    const c5 = repo.commit('fifth', { 'a.txt': '5' });
    await poller.pollAll();
    expect(gitAudits().map(([c]) => c)).toEqual([head, c3, c4, c5]);
    expect(store.get('app')).toMatchObject({ counts: { submitted: 4, matched: 4 }, git: { cursor: c5, commitsAudited: 4 } });
    expect(store.audits('app').map((a) => [a.version, a.filename])).toEqual([c5, c4, c3, head].map((c) => [c, `pyti-gitpkg-${c}.tar.gz`]));
  });

  it('takes at most maxCommitsPerPoll commits a poll and continues where it stopped', async () => {
    subscribe('app');
    const poller = newPoller(2);
    await poller.pollAll();
    const commits = [repo.commit('a'), repo.commit('b'), repo.commit('c')];
    const first = await poller.pollOne(store.row('app'));
    expect(first?.plan).toMatchObject({ more: true, commits: commits.slice(0, 2) });
    expect(poller.cursors.status(1).lastNote?.text).toMatch(/3 new commits: 2 this poll/);
    await poller.pollAll();
    expect(gitAudits().map(([c]) => c).slice(1)).toEqual(commits);
  });

  it('a force-push audits the new head only and says so; a commit seen before is not audited again', async () => {
    subscribe('app');
    const poller = newPoller();
    const c1 = repo.head();
    await poller.pollAll();
    const c2 = repo.commit('two');
    await poller.pollAll();
    repo.rewind(1);
    const rewritten = repo.commit('two, rewritten', { 'b.txt': 'b' });
    await poller.pollAll();
    expect(gitAudits().map(([c]) => c)).toEqual([c1, c2, rewritten]);
    expect(poller.cursors.status(1)).toMatchObject({ cursor: rewritten, forcePushes: 1, lastNote: { text: expect.stringMatching(/force-push.*is not an ancestor.*auditing the new head .* only/) } });
    expect(lines.join('\n')).toMatch(/git app: head [0-9a-f]{12}: 1 audits submitted.*force-push/);
    // Rewritten back to c2, which was audited before: the cursor follows, nothing is audited twice.
    repo.git('reset', '--quiet', '--hard', c2);
    await poller.pollAll();
    expect(gitAudits()).toHaveLength(3);
    expect(poller.cursors.status(1)).toMatchObject({ cursor: c2, forcePushes: 2, lastNote: { text: expect.stringMatching(/audited before; not again/) } });
  });

  it('a restarted poller (same database and mirrors) replays nothing and misses nothing; a poll that fails half-way changes nothing', async () => {
    subscribe('app');
    await newPoller().pollAll();
    const c2 = repo.commit('two');
    const c3 = repo.commit('three');
    // The second submission of the poll fails: the whole poll is rolled back, the cursor stays.
    const submit = queue.submit.bind(queue);
    let calls = 0;
    const spy = jest.spyOn(queue, 'submit').mockImplementation((input) => {
      if (++calls === 2) throw new Error('disk full (simulated)');
      return submit(input);
    });
    const broken = newPoller();
    await broken.pollAll();
    spy.mockRestore();
    expect(gitAudits()).toHaveLength(1);
    expect(broken.cursors.status(1)).toMatchObject({ cursor: expect.not.stringMatching(c3), lastError: { code: 'PYTI_GIT_FAILED', message: expect.stringMatching(/disk full/) } });

    const restarted = newPoller();
    await restarted.pollAll();
    await restarted.pollAll();
    expect(gitAudits().map(([c]) => c).slice(1)).toEqual([c2, c3]);
    expect(restarted.cursors.status(1)).toMatchObject({ cursor: c3, lastError: null });
  });

  it('records an unreachable repository and a missing branch on the subscription, and recovers', async () => {
    store.create(checkCreate({ name: 'gone', kind: 'git', repo: join(dir, 'no-such-repo'), branch: 'main' }));
    mkdirSync(join(dir, 'not-a-repo'));
    store.create(checkCreate({ name: 'plain', kind: 'git', repo: join(dir, 'not-a-repo'), branch: 'main' }));
    subscribe('dev', { branch: 'dev' });
    const poller = newPoller();
    await poller.pollAll();
    expect(gitAudits()).toEqual([]);
    expect(store.get('gone').git?.lastError).toMatchObject({ code: 'PYTI_GIT_UNREACHABLE', message: expect.stringMatching(/no-such-repo/) });
    expect(store.get('plain').git?.lastError).toMatchObject({ code: 'PYTI_GIT_UNREACHABLE' });
    expect(store.get('dev').git).toMatchObject({ cursor: null, lastError: { code: 'PYTI_GIT_BRANCH_NOT_FOUND', message: expect.stringMatching(/no such branch/) } });
    expect(lines.join('\n')).toMatch(/git dev: PYTI_GIT_BRANCH_NOT_FOUND: .*; retried in the next round/);

    repo.git('branch', 'dev');
    await poller.pollAll();
    expect(gitAudits()).toEqual([[repo.head(), 'pyti-gitpkg']]);
    expect(store.get('dev').git).toMatchObject({ cursor: repo.head(), lastError: null });
  });

  it('a paused subscription skips commits (the cursor moves on); the backlog policies apply', async () => {
    subscribe('app');
    const poller = newPoller();
    await poller.pollAll();
    store.update('app', { paused: true });
    repo.commit('while paused');
    await poller.pollAll();
    expect(gitAudits()).toHaveLength(1);
    expect(store.get('app')).toMatchObject({ counts: { skipped: 1, submitted: 1 }, git: { cursor: repo.head() } });
    store.update('app', { paused: false, backlogLimit: 1, backlogPolicy: 'drop-oldest' });
    const kept = [repo.commit('x'), repo.commit('y')];
    await poller.pollAll();
    const s = store.get('app');
    expect(s.counts).toMatchObject({ submitted: 3, dropped: 2, queued: 1 });
    expect(queue.list({ state: 'queued' }).map((a) => a.git?.commit)).toEqual([kept[1]]);

    store.update('app', { backlogPolicy: 'pause' });
    repo.commit('over the limit');
    await poller.pollAll();
    expect(store.get('app')).toMatchObject({ paused: true, pausedReason: expect.stringMatching(/backlog limit reached/), counts: { submitted: 3 } });
  });

  it('falls back to the repository name without a project name, and runs nothing of the repository', async () => {
    const marker = join(dir, 'pwned');
    const evil = new TestGitRepo(join(dir, 'evil-app.git-src'));
    evil.commit('evil', { '.gitattributes': '* filter=evil\n', 'setup.py': `import os; os.system("touch ${marker}")\n`, 'pyproject.toml': '[project]\ndynamic = ["name"]\n' });
    // Then the repository's own configuration and hooks would run commands, were they ever used (a filter for every file, too).
    evil.git('config', 'uploadpack.packObjectsHook', `touch ${marker}`);
    evil.git('config', 'core.fsmonitor', `touch ${marker}`);
    evil.git('config', 'filter.evil.smudge', `touch ${marker}`);
    evil.git('config', 'core.sshCommand', `touch ${marker}`);
    for (const hook of ['post-checkout', 'reference-transaction', 'pre-upload-pack', 'post-upload-pack']) {
      writeFileSync(join(evil.dir, '.git', 'hooks', hook), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    }
    store.create(checkCreate({ name: 'evil', kind: 'git', repo: evil.dir, branch: 'main' }));
    const poller = newPoller();
    await poller.pollAll();
    expect(gitAudits()).toEqual([[evil.head(), 'evil-app.git-src']]);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(dir, 'git', '1.git', 'hooks'))).toBe(false);
  });

  it('removes the mirror of a removed subscription', async () => {
    subscribe('app');
    const poller = newPoller();
    await poller.pollAll();
    expect(existsSync(join(dir, 'git', '1.git', 'HEAD'))).toBe(true);
    store.remove('app');
    await poller.pollAll();
    expect(existsSync(join(dir, 'git', '1.git'))).toBe(false);
  });
});
