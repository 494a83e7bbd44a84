/**
 * Every statement the master prepares when it starts (queue, search, history, subscriptions, feeds,
 * git, notifications, observations, cluster pages, stats) is valid PostgreSQL: a master is built on a
 * real PostgreSQL database with each `prepare` checked by the server (PREPARE) as it is made.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMasterConfig } from '../config.js';
import { buildMasterApp } from '../http/master-app.js';
import { pgAvailable } from '../testing/pg-kit.js';
import { testStores } from '../testing/store-kit.js';
import { checkStatementsOnPrepare } from './pg-store.js';
import { openDatabase } from './database.js';
import { JobQueue } from '../queue/job-queue.js';
import { AuditSearch } from '../search/audit-search.js';
import { ProjectHistory } from '../projects/project-history.js';

const stores = testStores();

(pgAvailable() || process.env.CI === 'true' ? describe : describe.skip)('the master on PostgreSQL', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'pyti-pg-statements-')); });
  afterEach(() => {
    checkStatementsOnPrepare(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('prepares only statements PostgreSQL accepts', async () => {
    const database = await stores.location('postgres');
    checkStatementsOnPrepare(true);
    const m = await buildMasterApp(loadMasterConfig({ data: dir, database, port: 0 }, { PYTI_USER_TOKEN: 'user-token-0123456789' }), { sweepIntervalMs: 0 });
    await m.close();
  });

  it('runs the statements made on demand: every audit filter at once, project history from stored reports', async () => {
    const db = openDatabase(await stores.location('postgres'));
    try {
      const q = new JobQueue(db, { leaseMs: 60_000, maxWaitMs: 0, maxAttempts: 2, defaultBackend: 'bwrap', sweepIntervalMs: 0 });
      q.register('s1', { protocolVersion: 1, version: '0.1.0', host: 'h', capabilities: { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 1 } });
      const a = q.submit({ source: { kind: 'index', project: 'Demo_Pkg', version: '1.0', filename: 'demo_pkg-1.0-py3-none-any.whl' } });
      const [l] = q.leaseNow('s1', 1);
      const report = { distribution: { name: 'Demo_Pkg', version: '1.0', filename: 'demo_pkg-1.0-py3-none-any.whl', summary: 'a demo' }, findings: [{ rule: 'net-connect' }] };
      q.complete('s1', l!.leaseId, { kind: 'report', reportJson: JSON.stringify(report), verdict: 'suspicious', score: 40, result: 'pass', findings: 1, artifacts: [] });
      const search = new AuditSearch(db);
      const all = { state: 'done' as const, verdict: 'flagged' as const, result: 'pass', project: 'demo-pkg', q: 'demo', rule: 'net-connect', backend: 'bwrap', slave: 's1', since: 0, until: Date.now() + 1000, limit: 10, offset: 0 };
      expect(search.page(all).audits.map((x) => x.id)).toEqual([a.id]);
      expect(search.page({ ...all, rule: 'other' }).audits).toEqual([]);
      expect(search.page({ ...all, subscription: 'none', verdict: 'suspicious', commit: 'ab' }).audits).toEqual([]);
      const history = new ProjectHistory(db);
      expect(history.audits('demo-pkg').audits.map((x) => x.id)).toEqual([a.id]);
      expect(history.metadata('demo-pkg')).toMatchObject({ name: 'Demo_Pkg', version: '1.0', summary: 'a demo' });
      expect(history.auditOfRelease('demo-pkg', '1.0')).toMatchObject({ id: a.id });
      expect(history.linksOf(a.id)).not.toBeNull();
      q.close();
    } finally {
      db.close();
    }
  });
});
