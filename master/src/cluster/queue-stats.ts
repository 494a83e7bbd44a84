/**
 * Samples of the queue over time for `/stats`: at every tick (a timer, default once a minute) one row
 * with the queue's depth (queued, running), the audits that reached a verdict since the previous
 * sample, and the median and 95th percentile of their upload-to-verdict latency (the index's upload
 * time, or the submission when unknown → finished, over audits that ended `done`; errors and cancellations are left out: they have no verdict).
 *
 * Retention is bounded: samples older than `retentionMs` (default 7 days) are deleted at every tick,
 * and at most `maxSamples` rows are kept. Reading latencies is bounded too (the newest 20 000 audits of
 * a window).
 */
import { guardedTick } from '../storage/guarded-tick.js';
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';

/** Default time between samples. */
export const DEFAULT_SAMPLE_MS = 60_000;
/** Default age after which samples are deleted. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 3_600_000;
/** Most samples kept whatever their age. */
export const MAX_SAMPLES = 20_160;
/** Most latencies read for one percentile. */
const MAX_LATENCIES = 20_000;

/** One sample. Latencies are null when no audit reached a verdict in its window. */
export interface QueueSample {
  at: string;
  queued: number;
  running: number;
  /** Audits that reached a verdict since the previous sample. */
  finished: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
}

/** `/api/v1/stats`: the queue now, the last hour's latency, and the samples, oldest first. */
export interface QueueStatsView {
  now: { queued: number; running: number };
  lastHour: { finished: number; latencyP50Ms: number | null; latencyP95Ms: number | null };
  sampleEveryMs: number;
  retentionMs: number;
  samples: QueueSample[];
}

/** The nearest-rank percentile `p` (0..100) of `sorted` (ascending), or null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface QueueStatsOptions {
  everyMs?: number;
  retentionMs?: number;
  maxSamples?: number;
}

interface SampleRow { at: number; queued: number; running: number; finished: number; p50_ms: number | null; p95_ms: number | null }

/** Takes and reads the samples (see the module comment). */
export class QueueStats {
  readonly everyMs: number;
  readonly retentionMs: number;
  private readonly maxSamples: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly st;

  constructor(private readonly db: Db, private readonly clock: Clock, opts: QueueStatsOptions = {}) {
    this.everyMs = opts.everyMs ?? DEFAULT_SAMPLE_MS;
    this.retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
    this.maxSamples = opts.maxSamples ?? MAX_SAMPLES;
    this.st = {
      depth: db.prepare(`SELECT SUM(state = 'queued') AS queued, SUM(state = 'running') AS running FROM jobs WHERE state IN ('queued', 'running')`),
      // From the index's upload time when the subscription knew it (jobs.uploaded_at), else the submission.
      latencies: db.prepare(`SELECT finished_at - COALESCE(uploaded_at, submitted_at) AS ms FROM jobs
        WHERE state = 'done' AND finished_at > @from AND finished_at <= @to ORDER BY finished_at DESC LIMIT ${MAX_LATENCIES}`),
      last: db.prepare('SELECT at FROM queue_samples ORDER BY at DESC LIMIT 1'),
      insert: db.prepare(`INSERT OR REPLACE INTO queue_samples (at, queued, running, finished, p50_ms, p95_ms)
        VALUES (@at, @queued, @running, @finished, @p50, @p95)`),
      dropOld: db.prepare('DELETE FROM queue_samples WHERE at < ?'),
      dropExtra: db.prepare('DELETE FROM queue_samples WHERE at <= (SELECT at FROM queue_samples ORDER BY at DESC LIMIT 1 OFFSET ?)'),
      recent: db.prepare('SELECT * FROM (SELECT * FROM queue_samples ORDER BY at DESC LIMIT ?) ORDER BY at'),
    };
  }

  /** Starts sampling every `everyMs` (unref'd timer); 0 never samples on its own. */
  start(): void {
    if (this.everyMs > 0 && !this.timer) {
      this.timer = setInterval(guardedTick('queue sample', () => this.sample()), this.everyMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The queue's depth now. */
  depth(): { queued: number; running: number } {
    const r = this.st.depth.get() as { queued: number | null; running: number | null };
    return { queued: r.queued ?? 0, running: r.running ?? 0 };
  }

  /** Latencies (ms, ascending) of audits that reached a verdict in (from, to]. */
  private latencies(from: number, to: number): number[] {
    return (this.st.latencies.all({ from, to }) as { ms: number }[]).map((r) => Math.max(0, r.ms)).sort((a, b) => a - b);
  }

  /** Takes one sample now (the window starts at the previous sample, or `everyMs` ago) and trims old ones. */
  sample(): QueueSample {
    const now = this.clock.now();
    return this.db.transaction(() => {
      const prev = (this.st.last.get() as { at: number } | undefined)?.at;
      const from = prev !== undefined && prev < now ? prev : now - (this.everyMs || DEFAULT_SAMPLE_MS);
      const lat = this.latencies(from, now);
      const { queued, running } = this.depth();
      const row: SampleRow = { at: now, queued, running, finished: lat.length, p50_ms: percentile(lat, 50), p95_ms: percentile(lat, 95) };
      this.st.insert.run({ at: row.at, queued, running, finished: row.finished, p50: row.p50_ms, p95: row.p95_ms });
      this.st.dropOld.run(now - this.retentionMs);
      this.st.dropExtra.run(this.maxSamples);
      return toSample(row);
    })();
  }

  /** The newest `limit` samples, oldest first. */
  samples(limit = 120): QueueSample[] {
    return (this.st.recent.all(Math.max(1, Math.min(limit, this.maxSamples))) as SampleRow[]).map(toSample);
  }

  /** The view of `/api/v1/stats` and `/stats`. */
  view(limit = 120): QueueStatsView {
    const now = this.clock.now();
    const lat = this.latencies(now - 3_600_000, now);
    return {
      now: this.depth(),
      lastHour: { finished: lat.length, latencyP50Ms: percentile(lat, 50), latencyP95Ms: percentile(lat, 95) },
      sampleEveryMs: this.everyMs,
      retentionMs: this.retentionMs,
      samples: this.samples(limit),
    };
  }
}

function toSample(r: SampleRow): QueueSample {
  return { at: new Date(r.at).toISOString(), queued: r.queued, running: r.running, finished: r.finished, latencyP50Ms: r.p50_ms, latencyP95Ms: r.p95_ms };
}
