/**
 * The body of a master timer (queue sweep, queue samples, outbox pumps) that never ends the process:
 * an error (a full disk's `SQLITE_FULL`, or anything else) is logged with its code and the timer simply
 * runs again at its next tick. A failure streak is logged once when it starts (with a count every 100
 * ticks) and once when the task works again, so a full disk does not flood the log.
 */
import { describeFailure } from './storage-full.js';

/** Where the lines go: `pyti master: <line>` on stderr by default. */
export type TickLog = (line: string) => void;

export const stderrTickLog: TickLog = (line) => void process.stderr.write(`pyti master: ${line}\n`);

/**
 * Wraps `task` (sync or async) so that calling the result never throws nor leaves a rejected promise:
 * failures go to `log` as `<what> failed: CODE: message; retrying at the next tick`.
 */
export function guardedTick(what: string, task: () => unknown, log: TickLog = stderrTickLog): () => void {
  let failures = 0;
  const failed = (err: unknown): void => {
    failures++;
    if (failures === 1 || failures % 100 === 0) {
      log(`${what} failed${failures > 1 ? ` (${failures} times in a row)` : ''}: ${describeFailure(err, what)}; retrying at the next tick`);
    }
  };
  const worked = (): void => {
    if (failures > 0) log(`${what} works again after ${failures} failed tick(s)`);
    failures = 0;
  };
  return () => {
    try {
      const r = task();
      if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).then(worked, failed);
      } else {
        worked();
      }
    } catch (err) {
      failed(err);
    }
  };
}
