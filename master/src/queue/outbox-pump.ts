/**
 * The timer and single-flight loop shared by the master's outbox senders (observations to the
 * index, notifications): a pass over what is due runs on a timer, or at once on `wake()`, never two
 * at a time; `close()` stops the timer and waits for the pass under way. Subclasses implement `pass`.
 * A failed pass (a full disk) is logged with its code and retried at the next tick: it never ends the process.
 */
import { guardedTick } from '../storage/guarded-tick.js';

export abstract class OutboxPump {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  /** Set by `close()`: a pass under way stops before its next item. */
  protected closed = false;

  /** One pass from a timer or `wake()`: failures are logged, never thrown. */
  private readonly tick: () => void;

  /** `everyMs`: between passes when idle (default 5 s); 0: no timer (tests call sendDue). */
  constructor(private readonly everyMs: number | undefined) {
    this.tick = guardedTick(`${new.target.name} pass`, () => this.sendDue());
  }

  /** Sends every due item once; resolves to how many were delivered. */
  protected abstract pass(): Promise<number>;

  /** Starts the timer (if `everyMs` is not 0). */
  start(): void {
    const every = this.everyMs ?? 5000;
    if (every > 0 && !this.timer) {
      this.timer = setInterval(this.tick, every);
      this.timer.unref();
    }
  }

  /** Sends what is due now (soon after something was queued). */
  wake(): void {
    if (!this.closed) setImmediate(this.tick);
  }

  /** Runs one pass over what is due (or joins the one under way); resolves to how many were delivered. */
  sendDue(): Promise<number> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stops the timer and waits for the pass under way. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
