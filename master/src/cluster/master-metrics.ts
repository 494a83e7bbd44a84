/**
 * What `/metrics` exports, read from the database at each scrape (so every master on one database
 * exports the same figures): the queue's depth by state, active leases and waiting long-polls,
 * audits finished in the last hour and in all by verdict, the upload-to-verdict latency histogram
 * (from the index's upload time when known, else the submission; over audits that reached a verdict,
 * state `done`), infrastructure retries, and each slave's load (active leases, capacity, audits in the
 * last hour, up, draining).
 *
 * Cost: one pass over the finished jobs for the histogram and the totals per scrape, plus small
 * grouped counts; scrape every 15 s or slower on a large database.
 */
import type { Db } from '../db/database.js';
import type { JobQueue } from '../queue/job-queue.js';
import { INFRA_RETRY_PREFIX } from '../queue/infra-retry.js';
import type { MetricFamily } from './prometheus-text.js';

/** Upper bounds (seconds) of the latency histogram's buckets. */
export const LATENCY_BUCKETS_S: readonly number[] = [30, 60, 120, 300, 600, 1800, 3600, 7200, 21_600, 86_400];

const HOUR_MS = 3_600_000;
/** A job's upload-to-verdict latency in ms (never negative). */
const LATENCY_SQL = `(CASE WHEN finished_at < COALESCE(uploaded_at, submitted_at) THEN 0 ELSE finished_at - COALESCE(uploaded_at, submitted_at) END)`;

export class MasterMetrics {
  private readonly st;

  constructor(db: Db, private readonly queue: JobQueue, private readonly leaseMs: number) {
    const buckets = LATENCY_BUCKETS_S.map((s, i) => `SUM(CASE WHEN ${LATENCY_SQL} <= ${s * 1000} THEN 1 ELSE 0 END) AS b${i}`).join(', ');
    this.st = {
      leases: db.prepare(`SELECT COUNT(*) AS n FROM attempts WHERE state = 'active'`),
      lastHour: db.prepare('SELECT verdict, COUNT(*) AS n FROM jobs WHERE finished_at > ? AND verdict IS NOT NULL GROUP BY verdict'),
      total: db.prepare('SELECT verdict, COUNT(*) AS n FROM jobs WHERE verdict IS NOT NULL GROUP BY verdict'),
      latency: db.prepare(`SELECT ${buckets}, COUNT(*) AS n, SUM(${LATENCY_SQL}) AS sum_ms FROM jobs WHERE state = 'done' AND finished_at IS NOT NULL`),
      infraRetries: db.prepare(`SELECT COUNT(*) AS n FROM attempts WHERE reason LIKE '${INFRA_RETRY_PREFIX}%'`),
      slaveHour: db.prepare(`SELECT slave, COUNT(*) AS n FROM jobs WHERE state = 'done' AND finished_at > ? AND slave IS NOT NULL GROUP BY slave`),
    };
  }

  /** The metric families now. */
  collect(): MetricFamily[] {
    const now = this.queue.clock.now();
    const counts = this.queue.counts();
    const byVerdict = (rows: { verdict: string; n: number }[]) => rows.map((r) => ({ labels: { verdict: r.verdict }, value: r.n }));
    const lat = this.st.latency.get() as Record<string, number | null>;
    const slaves = this.queue.slaves();
    const hourBySlave = new Map((this.st.slaveHour.all(now - HOUR_MS) as { slave: string; n: number }[]).map((r) => [r.slave, r.n]));
    const capacityOf = (caps: unknown): number => {
      const c = (caps as { concurrency?: unknown } | null)?.concurrency;
      return typeof c === 'number' && Number.isFinite(c) ? c : 0;
    };
    const perSlave = (value: (s: (typeof slaves)[number]) => number) => slaves.map((s) => ({ labels: { slave: s.name }, value: value(s) }));
    return [
      { name: 'pyti_jobs', help: 'Audits in the queue by state (queued and running: the queue\'s depth).', type: 'gauge',
        samples: Object.entries(counts).map(([state, n]) => ({ labels: { state }, value: n })) },
      { name: 'pyti_leases_active', help: 'Leases slaves hold now (running attempts).', type: 'gauge', samples: [{ value: (this.st.leases.get() as { n: number }).n }] },
      { name: 'pyti_lease_polls_waiting', help: 'jobs.lease long-polls waiting on this master now.', type: 'gauge', samples: [{ value: this.queue.waiting }] },
      { name: 'pyti_audits_last_hour', help: 'Audits that ended in the last hour, by verdict.', type: 'gauge',
        samples: byVerdict(this.st.lastHour.all(now - HOUR_MS) as { verdict: string; n: number }[]) },
      { name: 'pyti_audits_finished_total', help: 'Audits that ended, by verdict (since the database was created).', type: 'counter',
        samples: byVerdict(this.st.total.all() as { verdict: string; n: number }[]) },
      { name: 'pyti_upload_to_verdict_seconds', help: 'Time from the index\'s upload of a file (or its submission) to its audit\'s verdict.', type: 'histogram',
        buckets: LATENCY_BUCKETS_S,
        series: [{ counts: LATENCY_BUCKETS_S.map((_, i) => lat[`b${i}`] ?? 0), sum: (lat.sum_ms ?? 0) / 1000, count: lat.n ?? 0 }] },
      { name: 'pyti_infra_retries_total', help: 'Attempts whose infrastructure result (error:*) sent the job to another slave.', type: 'counter',
        samples: [{ value: (this.st.infraRetries.get() as { n: number }).n }] },
      { name: 'pyti_slave_active_leases', help: 'Leases each slave holds now.', type: 'gauge', samples: perSlave((s) => s.activeLeases) },
      { name: 'pyti_slave_capacity', help: 'Audits each slave runs at once (its registered concurrency).', type: 'gauge', samples: perSlave((s) => capacityOf(s.capabilities)) },
      { name: 'pyti_slave_audits_last_hour', help: 'Audits each slave completed in the last hour.', type: 'gauge', samples: perSlave((s) => hourBySlave.get(s.name) ?? 0) },
      { name: 'pyti_slave_up', help: '1 when the slave was heard from within two lease times.', type: 'gauge',
        samples: perSlave((s) => (s.lastSeen !== null && Date.parse(s.lastSeen) >= now - 2 * this.leaseMs ? 1 : 0)) },
      { name: 'pyti_slave_draining', help: '1 when the slave drains or was asked to.', type: 'gauge', samples: perSlave((s) => (s.draining || s.drainRequested ? 1 : 0)) },
    ];
  }
}
