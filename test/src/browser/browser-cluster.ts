/**
 * A real PyTI cluster for the browser tests, in this process: the test package index (for the
 * build requirements a slave prefetches), a master on 127.0.0.1 with a random port, and a real slave
 * auditing with bubblewrap. Audits are submitted as uploads of fixture packages, as a user would.
 *
 * The master never reaches beyond loopback: its index is the test index, and it does not follow the
 * index's change log (`follow: false`), so a subscription made in a test is listed, never polled.
 *
 * The master also accepts a second slave token (`ROGUE_SLAVE`) for a stand-in slave that speaks the
 * command API itself (see rogue-slave.ts); its jobs are submitted for the `qemu` backend, which the
 * bwrap slave never leases.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMasterApp, loadMasterConfig, UserClient, type AuditDetail, type MasterApp } from '@pyti/master';
import { BwrapBackend, loadSlaveConfig, runSlave } from '@pyti/slave';
import { buildFixture } from '../fixture-dists.js';
import { buildIndexFixtures } from '../index-fixtures.js';
import { startIndexServer, type IndexServer } from '../index-server/index-server.js';

/** The user token of the cluster's master. */
export const USER_TOKEN = 'browser-test-user-token-0123456789';
/** The real bwrap slave: its name and token. */
export const BWRAP_SLAVE = { name: 'bwrap-1', token: 'browser-test-bwrap-slave-token-0123' } as const;
/** The stand-in slave that sends hostile reports: its name and token. */
export const ROGUE_SLAVE = { name: 'rogue', token: 'browser-test-rogue-slave-token-0123' } as const;

/** A seed submission as the master answers it (`GET /api/v1/submissions/<id>`). */
export type SubmissionView = Awaited<ReturnType<UserClient['submitZip']>>;

/** What startCluster returns. */
export interface BrowserCluster {
  /** The master's base URL, without a trailing slash (`http://127.0.0.1:PORT`). */
  url: string;
  client: UserClient;
  master: MasterApp;
  /** Scratch space, removed by close() unless PYTI_KEEP_TEST_OUTPUT is set. */
  dir: string;
  /** Lines the bwrap slave logged (for failure messages). */
  slaveLog: string[];
  /** Starts the bwrap slave (idempotent). */
  startSlave(): void;
  /** Uploads the sdist of fixture package `name` (a directory under test/fixtures/packages). */
  submitFixture(name: string, opts?: { backend?: string }): Promise<AuditDetail>;
  /** Submits `zip` (bytes) as a seed submission (`POST /api/v1/submissions/zip`) named `filename`; throws on refusal. */
  submitZip(zip: Buffer, filename: string): Promise<SubmissionView>;
  /** Waits until audit `id` is done, errored or cancelled (default 6 minutes). */
  waitDone(id: string, timeoutMs?: number): Promise<AuditDetail>;
  close(): Promise<void>;
}

/** Why no bwrap audit can run here (no unprivileged namespaces, no bwrap …), or null. */
export async function bwrapSkipReason(): Promise<string | null> {
  return new BwrapBackend().probe();
}

/**
 * Starts index, master and (unless `slave: false`) the bwrap slave. The slave can also be started
 * later with startSlave(), e.g. to see a queued audit move on a page that is already open.
 */
export async function startCluster(opts: { slave?: boolean; concurrency?: number; statsEveryMs?: number } = {}): Promise<BrowserCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'pyti-browser-'));
  let index: IndexServer | undefined;
  let master: MasterApp | undefined;
  try {
    index = await startIndexServer({ files: buildIndexFixtures().files });
    const config = loadMasterConfig({
      data: join(dir, 'master'), host: '127.0.0.1', port: 0, leaseMs: 30_000, heartbeatMs: 1000, maxWaitMs: 1000, maxAttempts: 2,
      userToken: USER_TOKEN, slaveToken: [`${BWRAP_SLAVE.name}:${BWRAP_SLAVE.token}`, `${ROGUE_SLAVE.name}:${ROGUE_SLAVE.token}`],
      indexUrl: index.url, follow: false,
    }, {});
    master = await buildMasterApp(config, { sweepIntervalMs: 500, ...(opts.statsEveryMs ? { stats: { everyMs: opts.statsEveryMs } } : {}) });
    const url = (await master.listen()).replace(/\/$/, '');
    const client = new UserClient({ url, token: USER_TOKEN });
    const drain = new AbortController();
    const slaveLog: string[] = [];
    let slave: Promise<number> | null = null;
    const idx = index;
    const m = master;
    const cluster: BrowserCluster = {
      url, client, master: m, dir, slaveLog,
      startSlave() {
        if (slave) return;
        const sc = loadSlaveConfig({ master: url, token: BWRAP_SLAVE.token, name: BWRAP_SLAVE.name, concurrency: opts.concurrency ?? 2, indexUrl: idx.url, data: join(dir, 'slave') }, {});
        slave = runSlave(sc, { log: (l) => slaveLog.push(l), drain: drain.signal, leaseWaitMs: 1000, retry: { initialMs: 100, maxMs: 1000, deadlineMs: 10_000 } });
      },
      async submitFixture(name, o = {}) {
        const sub = await client.submitUpload(buildFixture(name, 'sdist'), o.backend ? { backend: o.backend } : {});
        return client.get(sub.id);
      },
      async submitZip(zip, filename) {
        const path = join(dir, filename);
        writeFileSync(path, zip);
        return client.submitZip(path);
      },
      async waitDone(id, timeoutMs = 6 * 60_000) {
        const d = await client.waitFor(id, { pollMs: 500, timeoutMs });
        if (!['done', 'error', 'cancelled'].includes(d.state)) throw new Error(`audit ${id} is still ${d.state}; slave log:\n${slaveLog.join('\n')}`);
        return d;
      },
      async close() {
        drain.abort();
        if (slave) await slave.catch(() => 1);
        await m.close();
        await idx.close();
        if (!process.env.PYTI_KEEP_TEST_OUTPUT) rmSync(dir, { recursive: true, force: true });
      },
    };
    if (opts.slave !== false) cluster.startSlave();
    return cluster;
  } catch (err) {
    await master?.close();
    await index?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
