/**
 * The plans of the conformance sessions, as data. Each groups many checks as independent tasks of
 * one plan, so that a backend that boots a VM per session pays for few boots. Every time limit is
 * scaled by `slowFactor`; the tight limits under test (memory, processes, output) are not.
 */
import type { Plan, TaskLimits, TaskSpec } from '@pyti/vm-agent';

const MiB = 1024 * 1024;

/** How the plans are scaled for a backend. */
export interface PlanScale {
  /** Multiplies every time limit (1 for sandboxes, about 10 for emulated VMs). */
  slowFactor: number;
  /** Independent tasks at once (1..2). */
  parallel: number;
}

/** The name the network probe looks up (under `.invalid`: it can never resolve anywhere). */
export const NET_PROBE_NAME = 'pyti-conformance.invalid';
/** The name the sinkhole probe resolves and connects to (under `.invalid`: only the sinkhole answers it). */
export const SINK_PROBE_NAME = 'pyti-sinkhole-conformance.invalid';
/** Size of the raw file the protocol task sends: more than one raw chunk. */
export const BLOB_BYTES = 300_000;
/**
 * The large input file of the protocol session: bigger than everything a warm VM template's input
 * disk held when its kernel read that disk's size, so a backend that restores warm guests shows
 * whether a job's larger input disk still mounts and reads back intact.
 */
export const LARGE_INPUT = { name: 'large-input.bin', bytes: 40 * 1024 * 1024 } as const;
/** The tight limits the limit and hostile tasks run under. */
export const TIGHT = { wallSeconds: 2, noOutputSeconds: 2, cpuSeconds: 1, memoryBytes: 128 * MiB, processes: 32, outputBytes: MiB } as const;
/** The victim task exits with this code; forged messages claim it passed. */
export const VICTIM_EXIT = 3;

/** The file name the rollback markers of the session with `nonce` get. */
export const markerName = (nonce: string): string => `.pyti-rollback-${nonce}`;

/** strace as the audit's traced tasks run it. */
const STRACE = ['strace', '-f', '-ttt', '-yy', '-s', '512', '-e', 'trace=%file,%network,%process,chmod,fchmod,fchmodat'];

/** What the shim probe hands PowerShell's -EncodedCommand (the shim logs it decoded). */
export const SHIM_PROBE_COMMAND = 'Write-Output pyti-conformance';

type TaskOver = Partial<Omit<TaskSpec, 'limits'>> & { limits?: Partial<TaskLimits> };

function taskMaker(s: PlanScale): (id: string, command: string[], over?: TaskOver) => TaskSpec {
  const roomy: TaskLimits = {
    wallSeconds: 120 * s.slowFactor, noOutputSeconds: 120 * s.slowFactor, cpuSeconds: 120 * s.slowFactor,
    memoryBytes: 1024 * MiB, processes: 64, outputBytes: 4 * MiB,
  };
  return (id, command, over = {}) => ({
    id, title: id, dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', command,
    env: { PYTHONDONTWRITEBYTECODE: '1' }, ...over, limits: { ...roomy, ...over.limits },
  });
}

/**
 * Protocol, network and the writing half of rollback: a task that streams stdout, stderr and a
 * multi-chunk raw file; one that writes markers wherever it can; the network probe under strace;
 * the sinkhole probe (a task on the sinkhole network);
 * and one that lingers (with a daemon) so that the host can see the session's processes.
 */
export function protocolPlan(nonce: string, s: PlanScale): Plan {
  const t = taskMaker(s);
  return {
    parallel: s.parallel,
    tasks: [
      t('protocol-echo', ['sh', '-c', `echo to-stdout; echo to-stderr >&2; head -c ${BLOB_BYTES} /dev/urandom > {raw}/blob.bin; sha256sum {raw}/blob.bin`]),
      t('input-large', ['sha256sum', `{input}/${LARGE_INPUT.name}`]),
      t('rollback-write', ['python3', '{input}/write_markers.py', markerName(nonce)], { produces: ['junk'] }),
      t('net-probe', [...STRACE, '-o', '{raw}/net.strace', 'python3', '{input}/net_probe.py', NET_PROBE_NAME]),
      t('sink-probe', ['python3', '{input}/sink_probe.py', SINK_PROBE_NAME], { network: 'sinkhole' }),
      // The Windows program shims run from {shims} (a VM guest installs them at its warm-up, from its bundle).
      t('shim-probe', ['{shims}/powershell', '-enc', Buffer.from(SHIM_PROBE_COMMAND, 'utf16le').toString('base64')],
        { env: { PYTHONDONTWRITEBYTECODE: '1', PYTI_SHIM_LOG: '{raw}/shims.jsonl' } }),
      t('linger', ['sh', '-c',
        `setsid python3 -c "import time; time.sleep(600)" pyti-daemon-${nonce} & echo lingering; exec python3 -c "import time; time.sleep(${2 * s.slowFactor})" pyti-linger-${nonce}`]),
    ],
  };
}

/**
 * Rollback's checking half, every limit, and hostile package code: each an independent task, then a
 * canary that runs only after the worst of them (a full disk, kill attempts, forged messages). The
 * guest scripts report on stdout, so a full disk does not stop them reporting.
 */
export function hostilePlan(markers: string, s: PlanScale): Plan {
  const t = taskMaker(s);
  return {
    parallel: s.parallel,
    tasks: [
      // First, in parallel with the slow limits: nothing after it writes to disk but its report (on stdout).
      t('hostile-fill', ['python3', '{input}/fill_disk.py', '{tmp}', '{scratch}', '{home}'], { limits: { wallSeconds: 300 * s.slowFactor } }),
      t('rollback-check', ['python3', '{input}/find_markers.py', markers, '{input}/markers.json']),
      t('limit-wall', ['sleep', '600'], { limits: { wallSeconds: TIGHT.wallSeconds * s.slowFactor } }),
      t('limit-quiet', ['sh', '-c', 'echo start; exec sleep 600'], { limits: { noOutputSeconds: TIGHT.noOutputSeconds * s.slowFactor } }),
      t('limit-cpu', ['python3', '-c', 'while True: pass'], { limits: { cpuSeconds: TIGHT.cpuSeconds } }),
      t('limit-memory', ['python3', '{input}/memory_hog.py', String(4 * TIGHT.memoryBytes)], { limits: { memoryBytes: TIGHT.memoryBytes } }),
      t('limit-processes', ['python3', '{input}/fork_bomb.py'], { limits: { processes: TIGHT.processes } }),
      t('limit-output', ['yes', 'pyti-conformance'], { limits: { outputBytes: TIGHT.outputBytes } }),
      t('hostile-fork-bomb', ['sh', '-c', 'bomb() { bomb | bomb; }; bomb'], { limits: { processes: TIGHT.processes } }),
      // A wall limit well above its few seconds, well below the roomy one: a flood the output limit misses costs CI less.
      t('hostile-flood', ['sh', '-c', "yes x | tr -d '\\n'"], { limits: { outputBytes: TIGHT.outputBytes, wallSeconds: 30 * s.slowFactor } }),
      t('hostile-kill', ['python3', '{input}/kill_agent.py']),
      t('hostile-agent-files', ['python3', '{input}/agent_files.py', '/opt/pyti/agent', '{tasks}']),
      t('hostile-forge', ['python3', '{input}/forge_rpc.py', 'victim']),
      t('victim', ['sh', '-c', `echo the victim fails; exit ${VICTIM_EXIT}`]),
      t('canary', ['python3', '-c', 'print("canary", 6 * 7)'], { dependsOn: ['hostile-fill', 'hostile-kill', 'hostile-agent-files', 'hostile-forge'] }),
    ],
  };
}
