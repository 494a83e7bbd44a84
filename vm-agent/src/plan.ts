/**
 * The data model of an audit plan: tasks, their dependencies, limits and failure policies,
 * and the results the execution manager reports for them. Shared by host and guest.
 */

/** What a task's failure does to the run, in Buildbot's sense. */
export type FailurePolicy =
  /** The run fails and nothing more is started; tasks not yet started are skipped. */
  | 'halt'
  /** The run fails; independent tasks go on. */
  | 'flunk'
  /** The failure is recorded as a warning; the run's verdict is not failed by it. */
  | 'warn';

/** Resource limits of one task. Every limit hit is reported as such, never as a plain failure. */
export interface TaskLimits {
  /** Wall-clock seconds from start to end. */
  wallSeconds: number;
  /** Seconds without any byte on stdout or stderr. */
  noOutputSeconds: number;
  /** CPU seconds summed over the task's processes. */
  cpuSeconds: number;
  /** Resident memory summed over the task's processes, in bytes. */
  memoryBytes: number;
  /** Processes alive at once. */
  processes: number;
  /** Bytes of stdout plus stderr. */
  outputBytes: number;
}

/** One task of a plan: data, not code. */
export interface TaskSpec {
  /** Unique id, `[a-z][a-z0-9-]*`. */
  id: string;
  /** One line for people. */
  title: string;
  /** Tasks that must have passed before this one starts. */
  dependsOn: string[];
  /** Data keys this task reads; each must be produced by exactly one task of the plan. */
  needs: string[];
  /** Data keys this task writes (each becomes a directory under the data store). */
  produces: string[];
  failurePolicy: FailurePolicy;
  /**
   * Exclusive locks held for the task's whole run (Buildbot's exclusive locks): tasks naming the same
   * lock never run at the same time, whatever `parallel` allows, and they all run in the slot the
   * first of them ran in, i.e. as the same unprivileged user, so each can change what the previous
   * one left in the shared home. Unlike `dependsOn`, neither waits for the other to pass. When two
   * are ready together, the one earlier in the plan's order goes first. Each name is of the form
   * `[a-z][a-z0-9-]*`; at most 8 per task.
   */
  locks?: string[];
  limits: TaskLimits;
  /**
   * argv. Placeholders: `{input}` (read-only inputs), `{wheelhouse}`, `{tasks}` (helper scripts),
   * `{raw}` (this task's raw-data directory, sent to the host), `{scratch}` (private scratch dir),
   * `{data:KEY}` (a data-store directory), `{home}`, `{tmp}`, `{shims}` (the Windows program shims).
   */
  command: string[];
  /** Extra environment (placeholders expanded too). */
  env?: Record<string, string>;
  /** Exit codes that count as pass (default `[0]`). */
  passCodes?: number[];
  /**
   * The network the task sees (default `none`). `none`: only loopback; connections elsewhere are
   * refused. `sinkhole`: every name resolves to a documentation address and every connection or
   * datagram to a non-loopback address reaches the in-guest sinkhole, which answers plausibly and
   * records it (sinkhole.ts); nothing leaves the guest either way. Its records arrive as the raw file
   * `sinkhole.jsonl`.
   */
  network?: TaskNetwork;
}

/** The networks a task may ask for (TaskSpec.network). */
export type TaskNetwork = 'none' | 'sinkhole';

/** A whole plan as the host sends it. */
export interface Plan {
  tasks: TaskSpec[];
  /** How many independent tasks may run at once (1..8). */
  parallel: number;
  /**
   * Data keys the host provides instead of a task of this plan (e.g. `source` and `meta` from an
   * `inspect` the host ran in its own sandbox): the agent copies `{input}/pyti-data/<key>` into the
   * data store before any task starts (provided-data.ts), and tasks may `need` them like produced
   * data. No task of the plan may also produce one. At most 16 keys of the form `[a-z][a-z0-9-]*`.
   */
  provided?: string[];
}

/** Per task outcome; the taxonomy the report uses. */
export type TaskStatus = 'pass' | 'fail' | 'skipped' | 'timeout' | 'oom' | 'limit' | 'error';

/** Which limit ended a task, when one did. */
export type LimitKind = 'wall-clock' | 'no-output' | 'cpu' | 'memory' | 'processes' | 'output-size';

/** The result of one task, with its timings and peak memory. */
export interface TaskResult {
  id: string;
  status: TaskStatus;
  /** For skipped tasks: why; for errors and limits: what happened. */
  reason?: string;
  limit?: LimitKind;
  exitCode?: number | null;
  signal?: string | null;
  /** Epoch milliseconds (guest clock). */
  startedAt?: number;
  durationMs?: number;
  cpuMs?: number;
  peakMemoryBytes?: number;
  peakProcesses?: number;
  outputBytes?: number;
  /** The last bytes of combined stdout/stderr (capped). */
  outputTail?: string;
  /** Names of the raw-data files sent for this task. */
  rawFiles: string[];
}

/** The result of a whole run. */
export interface RunResult {
  /** `pass`: nothing failed; `fail`: a halt/flunk task did not pass; `warn`: only warn tasks did not pass. */
  verdict: 'pass' | 'fail' | 'warn';
  /** The task that halted the run, if any. */
  haltedBy?: string;
  tasks: TaskResult[];
  durationMs: number;
}

/** Statuses that mean "did not pass". */
export function isFailure(status: TaskStatus): boolean {
  return status !== 'pass';
}
