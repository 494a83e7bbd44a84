/**
 * The one interface every sandbox or VM backend implements (bubblewrap now; QEMU and libvirt next),
 * in the manner of autopkgtest's virt servers: capabilities declared, availability probed, and a
 * started instance exposes nothing but a message channel to the vm-agent.
 */
import type { MessageReader, MessageWriter } from '@pyti/vm-agent';

export interface BackendCapabilities {
  /** How the guest is separated from the host. `none` is for benchmarks only. */
  isolation: 'namespaces' | 'vm' | 'none';
  /** Whether the guest has any network at all (it must be `none` for audits). */
  network: 'none' | 'host';
  /** Whether a job's writes vanish with the job. */
  rollback: boolean;
  /** Hardware acceleration in use, for VM backends. */
  accelerator?: 'kvm' | 'tcg';
}

/** What goes into a sandbox: all read-only inside. */
export interface SandboxInputs {
  /** Host directory holding the distribution file; mounted at /input. */
  inputDir: string;
  /** Host directory of wheels (may be empty); mounted at /wheelhouse. */
  wheelhouse: string;
  /** Host directory of the agent bundle (agent.mjs). */
  agentDir: string;
  /** Host directory of the task helpers. */
  tasksDir: string;
  /** The guest root filesystem. */
  rootfs: string;
  /** Per-job scratch directory on the host, removed by the caller after the job. */
  jobDir: string;
  /**
   * Process sandboxes (bwrap) only: a host directory mounted read-write as the agent's data store
   * (`/work/data`), so that the host can take what a stage's tasks produced (split-session.ts gives
   * inspect's `source` and `meta` to the guest this way). Its content is untrusted: copy it with
   * copyProvidedData. VM backends do not take it.
   */
  dataDir?: string;
  /**
   * VM backends: the guest's size chosen for the job's plan (guest-size.ts). Settings the backend
   * was made with (`cpus`, `memoryMiB`) take precedence; without either, the backend's defaults.
   */
  guest?: { cpus: number; memoryMiB: number };
}

/** A running sandbox with the agent at the other end of the channel. */
export interface SandboxInstance {
  reader: MessageReader;
  writer: MessageWriter;
  /** The guest's console or stderr so far (capped). */
  console(): string;
  /** Resolves when the sandbox has ended. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Ends the sandbox (if still running) and releases everything it held. Idempotent. */
  dispose(): Promise<void>;
  /**
   * Strings found in the command lines of this instance's host processes besides the job directory
   * (e.g. a libvirt domain's name and its file directory), so that leaks can be looked for.
   */
  readonly hostMarkers?: string[];
  /** Process sandboxes: the host uids its task slots run under (slot i: `base + i`), no other sandbox's. */
  readonly uids?: { base: number; count: number };
  /**
   * Process sandboxes: why the sandbox's task uids were signalled by a process outside the sandbox,
   * if they were (uid-witness.ts). The session then ends as an infrastructure failure, not the package's.
   */
  outsideKill?(): string | undefined;
}

export interface Backend {
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  /** null when the backend can run here, else the reason it cannot. */
  probe(): Promise<string | null>;
  start(inputs: SandboxInputs): Promise<SandboxInstance>;
  /** VM backends with a pool of waiting guests (guest-pool.ts): its size and how many are ready. */
  poolStatus?(): { size: number; ready: number; filling: number; lastError?: string };
  /** Starts filling the pool (guests of `size`, default the backend's own) and resolves once it is full. */
  poolReady?(size?: { cpus: number; memoryMiB: number }): Promise<void>;
  /** Ends every waiting guest and stops refilling (shutdown). Idempotent. */
  closePool?(): Promise<void>;
}
