/**
 * Long-poll waiters: `jobs.lease` calls with nothing to lease wait here until a job is submitted or
 * requeued (wakeAll), their time runs out, or the queue closes.
 */
export class Waiters {
  private readonly pending = new Set<() => void>();
  private closed = false;

  /** Resolves on the next wakeAll or close, or after `ms`. */
  wait(ms: number): Promise<void> {
    if (this.closed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.pending.add(done);
    });
  }

  wakeAll(): void {
    for (const done of [...this.pending]) done();
  }

  /** Wakes everyone and answers later waits at once. */
  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get size(): number {
    return this.pending.size;
  }
}
