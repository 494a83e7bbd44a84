/**
 * The warm Python of a VM guest (vm-agent/guest/warm_python.py): a root Python process with the
 * build's and the installer's modules already imported, started by the agent at its start under
 * `strace -ff --seccomp-bpf`, so that it is part of the warm template every job restores. The traced
 * build and install steps (tasks/guest/pyti_warm.py) ask it over a Unix socket to fork them as their
 * own user instead of starting a cold interpreter: under TCG that saves the imports (seconds) and the
 * traced system calls they make (half a millisecond each).
 *
 * Guests only (`vm`): process sandboxes share the host's kernel, and the fork server would be a root
 * process reachable from the sandbox's users. The socket appears only once the imports are done; a step
 * that finds no socket (or is refused) starts cold, as before.
 *
 * Security: the traces land in a root-only directory, bound onto the job's scratch disk at the first
 * `run` (a package's trace cannot fill the guest's root); the server gives a child the identity of the
 * client that asked (never root), see warm_python.py.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** The server's source and its module list, inlined into the guest's agent bundle by esbuild (images/src/agent-bundle.ts). */
declare const __PYTI_WARM_PYTHON__: string | undefined;
declare const __PYTI_WARM_PYTHON_MODULES__: string | undefined;

/** The guest init's static busybox (images/boot/init.sh). */
export const GUEST_BUSYBOX = '/run/pyti/busybox';

/** Where the warm Python lives in the guest. */
export const WARM_DIR = '/run/pyti/warm';
/** Its socket (what tasks/guest/pyti_warm.py connects to). */
export const WARM_SOCKET = `${WARM_DIR}/python.sock`;
/** The directory strace writes the per-process traces into (`t.PID`). */
export const WARM_TRACE_DIR = `${WARM_DIR}/t`;

/**
 * strace's options for the warm Python: those of the traced tasks (tasks/src/traced-calls.ts
 * STRACE_ARGS, with the stat-family probes; a test keeps them equal), with `-ff` for a file per process.
 */
export const WARM_STRACE_OPTIONS: readonly string[] = Object.freeze([
  '-ff', '--seccomp-bpf', '-ttt', '-yy', '-s', '512', '-e',
  'trace=%network,%process,open,openat,openat2,creat,unlink,unlinkat,rmdir,rename,renameat,renameat2,'
  + 'chmod,fchmod,fchmodat,mkdir,mkdirat,symlink,symlinkat,link,linkat,truncate,chdir,fchdir,'
  + 'newfstatat,statx,access,faccessat,faccessat2',
  '-e', 'signal=all',
]);

function serverSource(): { source: string; modules: string } {
  return typeof __PYTI_WARM_PYTHON__ === 'string' && typeof __PYTI_WARM_PYTHON_MODULES__ === 'string'
    ? { source: __PYTI_WARM_PYTHON__, modules: __PYTI_WARM_PYTHON_MODULES__ }
    : {
      source: readFileSync(new URL('../guest/warm_python.py', import.meta.url), 'utf8'),
      modules: readFileSync(new URL('../guest/warm_python_modules.txt', import.meta.url), 'utf8'),
    };
}

/** A started warm Python: `ready` resolves true once it listens, false when it could not start. */
export interface WarmPython {
  ready: Promise<boolean>;
  process?: ChildProcess;
}

/**
 * Starts the warm Python (a guest's agent, as root, at its start) in `where.dir` (default WARM_DIR:
 * its socket `python.sock`, traces in `t/`) with `where.python` (default python3); `where.traceTmpfs`:
 * a busybox that mounts a tmpfs on `t/` first (VM guests). Never throws:
 * without python3 or strace in the image it is simply not there, and every step starts cold.
 * `log` gets its lines.
 */
export function startWarmPython(log: (line: string) => void, where: { dir?: string; python?: string; traceTmpfs?: string } = {}): WarmPython {
  const dir = where.dir ?? WARM_DIR;
  const traceDir = `${dir}/t`;
  try {
    mkdirSync(traceDir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o755);
    if (where.traceTmpfs) {
      // The import's own trace (megabytes) in memory, not dirty on the guest's root disk when the
      // template is saved: a restored guest would write it back while its job starts.
      spawnSync(where.traceTmpfs, ['mount', '-t', 'tmpfs', '-o', 'size=256m,mode=700', 'tmpfs', traceDir], { stdio: 'ignore', timeout: 10000 });
    }
    chmodSync(traceDir, 0o700);
    const script = `${dir}/warm_python.py`;
    const modules = `${dir}/modules.txt`;
    const { source, modules: moduleList } = serverSource();
    writeFileSync(script, source, { mode: 0o644 });
    writeFileSync(modules, moduleList, { mode: 0o644 });
    const child = spawn('strace', [...WARM_STRACE_OPTIONS, '-o', `${traceDir}/t`, where.python ?? 'python3', script, `${dir}/python.sock`, traceDir, modules], {
      stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    child.unref();
    const ready = new Promise<boolean>((resolve) => {
      child.once('error', (err) => {
        log(`warm Python unavailable: ${err.message}`);
        resolve(false);
      });
      child.once('exit', (code, signal) => {
        log(`warm Python ended (${signal ?? code}); steps start cold`);
        resolve(false);
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line === 'ready') resolve(true);
      });
      createInterface({ input: child.stderr! }).on('line', (line) => log(line.slice(0, 500)));
    });
    return { ready, process: child };
  } catch (err) {
    log(`warm Python unavailable: ${(err as Error).message}`);
    return { ready: Promise.resolve(false) };
  }
}

/**
 * Puts the warm Python's trace directory on the job's disk (`dir`, made root-only), once the job's
 * scratch disk is attached: strace opens a process's trace file when the process starts, so every
 * task's processes write there. Best effort: on failure the traces stay on the guest's root.
 */
export function bindWarmTraces(dir: string, busybox = GUEST_BUSYBOX): void {
  if (!existsSync(WARM_TRACE_DIR)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const mount = existsSync(busybox) ? [busybox, 'mount'] : ['mount'];
  spawnSync(mount[0]!, [...mount.slice(1), '--bind', dir, WARM_TRACE_DIR], { stdio: 'ignore', timeout: 10000 });
}
