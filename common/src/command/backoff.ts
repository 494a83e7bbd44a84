/**
 * Exponential backoff with jitter, bounded by a deadline: how the slave keeps calling a master that is
 * restarting or briefly unreachable without hammering it (every slave picks its own random delay).
 */

export interface RetryPolicy {
  /** First delay. */
  initialMs: number;
  /** Largest delay between two attempts. */
  maxMs: number;
  /** Growth per attempt. */
  factor: number;
  /** Give up once this long has passed since the first attempt. */
  deadlineMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({ initialMs: 200, maxMs: 10_000, factor: 2, deadlineMs: 60_000 });

/** Delay before retry number `attempt` (1 for the first retry): "equal jitter", between half and all of the exponential step. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const step = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
