/**
 * The master's garbage collector of blobs: plans (blob-inventory.ts, gc-plan.ts) and runs (gc-run.ts)
 * a collection under the retention policy, on demand (`pyti master gc`) or every `--gc-interval` in a
 * running master (`start`; off by default). A periodic run that fails is logged and tried again at the
 * next interval; the master goes on.
 */
import type { Db } from '../db/database.js';
import type { BlobStore } from '../blobs/blob-store.js';
import { formatBytes } from '@pyti/common';
import { blobInventory, tempLeftovers } from './blob-inventory.js';
import { planGc, totalsByKind, type GcPlan } from './gc-plan.js';
import { runGc, type GcResult } from './gc-run.js';
import type { RetentionConfig } from './retention-config.js';

export interface RetentionGcOptions {
  db: Db;
  blobs: BlobStore;
  policy: RetentionConfig;
  /** The queue's clock (job times are on it). */
  now?: () => number;
  log?: (line: string) => void;
}

/** `3 archive (1.2 MiB), 10 raw (300.0 KiB), 0 orphan, 1 temp (4.0 KiB)`. */
export function kindSummary(items: GcPlan['items']): string {
  return Object.entries(totalsByKind(items)).map(([k, t]) => (t.count ? `${t.count} ${k} (${formatBytes(t.bytes)})` : `0 ${k}`)).join(', ');
}

export class RetentionGc {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | null = null;

  constructor(private readonly o: RetentionGcOptions) {}

  /** What a collection would delete now (nothing is touched). */
  async plan(): Promise<GcPlan> {
    const now = (this.o.now ?? Date.now)();
    return planGc(this.o.policy, await blobInventory(this.o.db, this.o.blobs), tempLeftovers(this.o.blobs), now);
  }

  /** Runs `plan` (re-checking each blob against the database and its file first, see gc-run.ts). */
  run(plan: GcPlan, onProgress?: (done: number, total: number, deletedBytes: number) => void): Promise<GcResult> {
    return runGc(plan, { db: this.o.db, blobs: this.o.blobs, policy: this.o.policy, onProgress });
  }

  /** Plans and runs a collection; `onProgress` after each batch. */
  async collect(onProgress?: (done: number, total: number, deletedBytes: number) => void): Promise<{ plan: GcPlan; result: GcResult }> {
    const plan = await this.plan();
    return { plan, result: await this.run(plan, onProgress) };
  }

  /** Resolves when no periodic collection is under way (tests; closing). */
  async idle(): Promise<void> {
    await this.current;
  }

  /** Collects every `policy.gcIntervalMs` (nothing when it is 0). */
  start(): void {
    if (!this.o.policy.gcIntervalMs || this.timer) return;
    this.timer = setInterval(() => this.tick(), this.o.policy.gcIntervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a collection under way (the database stays open until it ends). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.current;
  }

  private tick(): void {
    if (this.current) return;
    const log = this.o.log ?? (() => undefined);
    this.current = (async () => {
      try {
        const { plan, result } = await this.collect();
        if (result.deleted.length || result.skipped.length) {
          log(`gc: deleted ${kindSummary(result.deleted)}${result.skipped.length ? `; skipped ${result.skipped.length}` : ''}; blobs now ${formatBytes(plan.after.bytes)}`);
        }
      } catch (err) {
        log(`gc failed (tried again in ${Math.round(this.o.policy.gcIntervalMs / 1000)} s): ${(err as Error).message}`);
      } finally {
        this.current = null;
      }
    })();
  }
}
