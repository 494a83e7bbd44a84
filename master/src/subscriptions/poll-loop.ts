/**
 * A task run every `everyMs`, one run at a time, with exponential backoff after failures, that can be
 * triggered early and stopped (stop waits for the run in flight). Timers are injectable for tests.
 */

/** setTimeout/clearTimeout, injectable. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Node's timers, unref'd (a poll never keeps the process alive by itself). */
export const realTimers: Timers = {
  set: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface PollLoopOptions {
  everyMs: number;
  /** First delay after a failure (default: everyMs); doubles per failure up to maxBackoffMs. */
  backoffMs?: number;
  /** Default: 10 minutes, or everyMs when longer. */
  maxBackoffMs?: number;
  timers?: Timers;
  /** Called after a failed run with the delay before the next one. */
  onError?: (err: unknown, retryInMs: number) => void;
}

export class PollLoop {
  private timer: unknown = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private failures = 0;
  private readonly timers: Timers;

  constructor(private readonly task: () => Promise<void>, private readonly opts: PollLoopOptions) {
    this.timers = opts.timers ?? realTimers;
  }

  /** Whether it runs (started and not stopped). */
  get active(): boolean {
    return !this.stopped;
  }

  /** Consecutive failed runs. */
  get failureCount(): number {
    return this.failures;
  }

  /** Starts: the first run at once. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Runs as soon as possible (after the run in flight, if any); no-op when stopped or backing off after a failure. */
  trigger(): void {
    if (this.stopped || this.failures > 0) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  /** Stops; resolves once the run in flight (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    await this.running;
  }

  /** The run in flight, if any (tests). */
  get inFlight(): Promise<void> | null {
    return this.running;
  }

  private schedule(ms: number): void {
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = this.timers.set(() => {
      this.timer = null;
      this.running = this.run();
    }, ms);
  }

  private async run(): Promise<void> {
    let next = this.opts.everyMs;
    try {
      await this.task();
      this.failures = 0;
    } catch (err) {
      this.failures++;
      const base = this.opts.backoffMs ?? this.opts.everyMs;
      const max = Math.max(this.opts.maxBackoffMs ?? 600_000, this.opts.everyMs);
      next = Math.min(max, base * 2 ** (this.failures - 1));
      this.opts.onError?.(err, next);
    }
    this.running = null;
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      next = this.failures ? next : 0;
    }
    this.schedule(next);
  }
}
