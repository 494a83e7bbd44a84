/** One timed test of the perf task: an entry of the report's `perf` (the slave parses perf.json into these). */
export interface PerfResult {
  /** pytest node id. */
  test: string;
  /** Runs that passed (their call durations were measured). */
  runs: number;
  minMs?: number;
  medianMs?: number;
  maxMs?: number;
}
