/**
 * Progress of one leased job to the master (`jobs.progress`): events are queued, sent in order in
 * batches of at most COMMAND_LIMITS.maxProgressEvents, at most one call at a time. Progress is best
 * effort: a failed call is logged and its events dropped. An answer `valid: false` or a
 * `PYTI_LEASE_LOST` error means the lease is void: `onLost` is called (the job is stopped).
 */
import { PytiError } from '@pyti/vm-agent';
import type { CommandClient } from '../command/command-client.js';
import { COMMAND_LIMITS, type JobProgressEvent } from '@pyti/common';

export class ProgressSender {
  private queue: JobProgressEvent[] = [];
  private sending: Promise<void> | null = null;
  private lost = false;

  constructor(
    private readonly client: CommandClient,
    private readonly leaseId: string,
    private readonly onLost: () => void,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  /** Queues an event (a log line is capped at COMMAND_LIMITS.maxLogText characters) and starts sending. */
  push(e: JobProgressEvent): void {
    if (this.lost) return;
    if (e.kind === 'log' && e.text.length > COMMAND_LIMITS.maxLogText) e = { ...e, text: e.text.slice(0, COMMAND_LIMITS.maxLogText) };
    this.queue.push(e);
    if (this.queue.length > 10_000) this.queue.splice(0, this.queue.length - 10_000);
    this.sending ??= this.drain().finally(() => (this.sending = null));
  }

  /** Resolves when everything queued so far has been sent (or dropped). */
  async flush(): Promise<void> {
    while (this.sending) await this.sending;
  }

  private async drain(): Promise<void> {
    while (this.queue.length && !this.lost) {
      const events = this.queue.splice(0, COMMAND_LIMITS.maxProgressEvents);
      try {
        const r = await this.client.call('jobs.progress', { leaseId: this.leaseId, events }, { deadlineMs: 15_000 });
        if (!r.valid) this.markLost();
      } catch (err) {
        if (err instanceof PytiError && err.code === 'PYTI_LEASE_LOST') this.markLost();
        else this.onError(err as Error);
      }
    }
  }

  private markLost(): void {
    if (this.lost) return;
    this.lost = true;
    this.queue = [];
    this.onLost();
  }
}
