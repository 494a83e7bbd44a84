/**
 * Retrying infrastructure results: a report whose result is `error:*` (the sandbox, its agent or the
 * slave's host failed, not the package) is not stored as the audit's result while the job may still
 * be retried: its attempt ends as `retried` with a reason starting with INFRA_RETRY_PREFIX, and the
 * job goes back to the queue, where other slaves are preferred over the ones that failed it (see
 * JobQueue.leaseNow). After `maxInfraRetries` such retries, or when the job has no attempt left, the
 * report is stored as it is.
 */

/** How the reason of an attempt retried for an infrastructure result starts (a registered error code). */
export const INFRA_RETRY_PREFIX = 'PYTI_INFRA_RESULT';

/** Whether a report's result is an infrastructure failure. */
export const isInfraResult = (result: string): boolean => result.startsWith('error:');

/**
 * The reason to record when a report with `result` from `slave` should be retried instead of stored,
 * or null when it should be stored (not an infrastructure result, retries used up, no attempt left).
 * `retriesSoFar` counts the job's earlier attempts retried this way; `attempts` includes this one.
 */
export function infraRetryReason(o: { result: string; slave: string; retriesSoFar: number; maxInfraRetries: number; attempts: number; maxAttempts: number }): string | null {
  if (!isInfraResult(o.result) || o.retriesSoFar >= o.maxInfraRetries || o.attempts >= o.maxAttempts) return null;
  return `${INFRA_RETRY_PREFIX}: ${o.result} on slave ${o.slave}; retried on another slave (${o.retriesSoFar + 1} of ${o.maxInfraRetries})`;
}
