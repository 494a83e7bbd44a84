/**
 * A pool of ready guests for the VM backends: guests already restored from the warm template and
 * waiting at an idle agent, so that a job's start() finds one and skips the restore (about 1.3 s for
 * QEMU, 2.2–2.8 s for libvirt under TCG) on its critical path. The pool refills in the background
 * once a guest is taken, one restore at a time (so while a job runs, the next job's guest is being
 * restored), and replaces a waiting guest that died or waited longer than `maxAgeMs`. The refill
 * after a take starts once the taken guest has answered its job's first message (its hello), or
 * `refillDelayMs` after the take at the latest: a restore started at once would compete for the
 * host's CPUs with the very start it is meant to shorten (measured: it doubled the pooled hello).
 *
 * Security: a pooled guest serves exactly one job. take() removes it from the pool for good; a
 * guest is never returned to it. Guests are keyed (the backend's key: guest size and agent bundle):
 * a job only takes a guest made for its key.
 *
 * Memory: a waiting guest costs about 300 MB of host RSS (a restored, idle guest), so the pool's size
 * is the operator's bound on that cost (see `pyti slave --vm-pool`).
 */
import type { HostNotifications, MessageReader } from '@pyti/vm-agent';
import type { SandboxInputs, SandboxInstance } from './backend.js';

/** A guest waiting in the pool. */
export interface PooledGuest {
  /** What it was made for (guest size, agent): a job takes only a guest of its own key. */
  readonly key: string;
  /** When it became ready (ms since the epoch). */
  readonly readyAt: number;
  /** Resolves when the guest's VM has ended (a waiting guest that ends is replaced). */
  readonly ended: Promise<unknown>;
  /** Whether its VM is still running. */
  alive(): boolean;
  /** Gives the guest the job's inputs (its input disk rewritten in place) and hands it to the job. */
  claim(inputs: SandboxInputs): Promise<SandboxInstance>;
  /** Ends it without a job, releasing its files. */
  discard(): Promise<void>;
}

/** What a slave reports about its pool (heartbeats, the cluster page). */
export interface PoolStatus {
  /** Guests the pool keeps waiting. */
  size: number;
  /** Guests waiting now. */
  ready: number;
  /** Restores under way. */
  filling: number;
  /** The last restore's failure, if the last one failed. */
  lastError?: string;
}

export interface GuestPoolOptions {
  /** A waiting guest older than this is replaced (default one hour). */
  maxAgeMs?: number;
  /** Told of every failed restore (the pool retries with a growing pause, up to a minute). */
  onError?: (err: Error) => void;
  /** After a take, the refill waits for the taken guest's first answer, or this long at most (default 5000 ms). */
  refillDelayMs?: number;
}

/** The notification a guest restored for the pool gets at once, while it waits (HostNotifications). */
const PRIME: keyof HostNotifications = 'host/prime';

/** Sends a guest just restored for the pool its `host/prime`: its agent warms QEMU's translation cache before any job. */
export function primeWaitingGuest(instance: Pick<SandboxInstance, 'writer'>): void {
  instance.writer.write({ jsonrpc: '2.0', method: PRIME, params: {} });
}

/**
 * `instance` with its reader wrapped so that `first` runs once, when the first message from the guest
 * arrives (for a pooled guest: its hello to the job's `initialize`).
 */
export function onFirstMessage(instance: SandboxInstance, first: () => void): SandboxInstance {
  const inner: MessageReader = instance.reader;
  let fired = false;
  const reader: MessageReader = {
    listen: (onMessage, onError, onClose) => inner.listen((line) => {
      if (!fired) {
        fired = true;
        first();
      }
      onMessage(line);
    }, onError, onClose),
  };
  return { ...instance, reader };
}

/** The pool. `size` 0 keeps nothing (every start restores on its own). */
export class GuestPool {
  private waiting: PooledGuest[] = [];
  private filling = 0;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private wanted: { key: string; make: () => Promise<PooledGuest> } | undefined;
  private closed = false;
  private lastError: string | undefined;
  private listeners: (() => void)[] = [];
  private inFlight = new Set<Promise<unknown>>();
  /** Set while a taken guest is starting its job: the refill waits (see refillSoon). */
  private holdTimer: NodeJS.Timeout | undefined;

  constructor(readonly size: number, private readonly opts: GuestPoolOptions = {}) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`pool size must be a whole number ≥ 0, not ${size}`);
  }

  /**
   * Sets the key of the guests to keep and how to make one, and starts filling. Waiting guests of
   * another key are discarded (the pool holds at most `size` guests in all).
   */
  want(key: string, make: () => Promise<PooledGuest>): void {
    if (this.closed || this.size === 0) return;
    if (this.wanted?.key !== key) {
      const other = this.waiting.filter((g) => g.key !== key);
      this.waiting = this.waiting.filter((g) => g.key === key);
      for (const g of other) void g.discard().catch(() => undefined);
      this.failures = 0;
    }
    this.wanted = { key, make };
    this.fill();
  }

  /**
   * Takes a live waiting guest of `key` out of the pool for good (undefined if none). With a guest
   * taken, the refill is held until refillSoon() (the taken guest's hello) or `refillDelayMs`.
   */
  take(key: string): PooledGuest | undefined {
    const i = this.waiting.findIndex((g) => g.key === key && g.alive());
    const g = i >= 0 ? this.waiting.splice(i, 1)[0] : undefined;
    if (g) {
      clearTimeout(this.holdTimer);
      this.holdTimer = setTimeout(() => this.refillSoon(), this.opts.refillDelayMs ?? 5000);
      this.holdTimer.unref();
    }
    this.prune();
    this.fill();
    this.notify();
    return g;
  }

  /**
   * A job's sandbox from a waiting guest of `key` (wanting that key first, so the pool fills with it),
   * or undefined when none waits or the claim failed (that guest is discarded; the caller then makes
   * a sandbox of its own, as without a pool). An input too large for any guest is rethrown: a guest of
   * the caller's own would refuse it too.
   */
  async claim<T extends SandboxInstance>(key: string, make: () => Promise<PooledGuest>, inputs: SandboxInputs): Promise<T | undefined> {
    if (this.size === 0) return undefined;
    this.want(key, make);
    const waiting = this.take(key);
    if (!waiting) return undefined;
    try {
      return (await waiting.claim(inputs)) as T;
    } catch (err) {
      await waiting.discard().catch(() => undefined);
      if ((err as { code?: string }).code === 'PYTI_INPUT_TOO_LARGE') throw err;
      return undefined;
    }
  }

  /** Ends the hold a take put on the refill, and refills. */
  refillSoon(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.fill();
  }

  /** The pool's state now. */
  status(): PoolStatus {
    this.prune();
    return { size: this.size, ready: this.waiting.length, filling: this.filling, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  /**
   * Resolves once `size` guests of the wanted key are waiting. Rejects when the pool is closed, or
   * when a restore fails (with its error), so that a caller does not wait on a pool that cannot fill.
   */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.closed) return reject(new Error('the guest pool is closed')), true;
        if (this.lastError) return reject(new Error(`the guest pool cannot fill: ${this.lastError}`)), true;
        const key = this.wanted?.key;
        if (this.size === 0 || (key !== undefined && this.waiting.filter((g) => g.key === key).length >= this.size)) return resolve(), true;
        return false;
      };
      if (check()) return;
      const listener = (): void => {
        if (check()) this.listeners = this.listeners.filter((l) => l !== listener);
      };
      this.listeners.push(listener);
    });
  }

  /** Ends every waiting guest and every restore under way; the pool makes no more. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.holdTimer);
    const all = this.waiting;
    this.waiting = [];
    this.notify();
    await Promise.all([...all.map((g) => g.discard().catch(() => undefined)), ...this.inFlight]);
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Drops guests that died or waited too long. */
  private prune(): void {
    const maxAge = this.opts.maxAgeMs ?? 3600_000;
    const now = Date.now();
    const stale = this.waiting.filter((g) => !g.alive() || now - g.readyAt > maxAge);
    if (!stale.length) return;
    this.waiting = this.waiting.filter((g) => !stale.includes(g));
    for (const g of stale) void g.discard().catch(() => undefined);
    this.fill();
  }

  /** Starts one restore if the pool is short of guests of the wanted key and none is under way. */
  private fill(): void {
    const w = this.wanted;
    if (this.closed || !w || this.filling > 0 || this.retryTimer || this.holdTimer) return;
    if (this.waiting.filter((g) => g.key === w.key).length >= this.size) return;
    this.filling++;
    const p = w.make().then(
      (g) => {
        this.filling--;
        this.failures = 0;
        this.lastError = undefined;
        if (this.closed || this.wanted?.key !== g.key || !g.alive()) {
          const gone = g.discard().catch(() => undefined);
          this.notify();
          if (!this.closed) this.fill();
          return gone;
        } else {
          this.waiting.push(g);
          // A waiting guest that ends (crash, killed from outside) is replaced at once.
          void g.ended.then(() => {
            if (this.waiting.includes(g)) this.prune();
          });
        }
        this.notify();
        this.fill();
      },
      (err: Error) => {
        this.filling--;
        this.failures++;
        this.lastError = err.message.split('\n')[0]!.slice(0, 500);
        this.opts.onError?.(err);
        this.notify();
        if (this.closed) return;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.fill();
        }, Math.min(60_000, 1000 * 2 ** Math.min(this.failures, 6))).unref();
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}
