/**
 * The vm-agent as one JavaScript file for the guest's Node runtime (Debian bookworm: Node 18),
 * bundled with esbuild from vm-agent's sources. Rebuilt whenever a source is newer than the bundle.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const AGENT_SRC = new URL('../../vm-agent/src/', import.meta.url).pathname;
const LAUNCHER_SRC = new URL('../../vm-agent/launcher/pyti-launch.c', import.meta.url).pathname;
/** The guest's warm Python server (vm-agent/src/warm-python.ts), inlined into the bundle. */
const WARM_PYTHON_SRC = new URL('../../vm-agent/guest/warm_python.py', import.meta.url).pathname;
const WARM_PYTHON_MODULES = new URL('../../vm-agent/guest/warm_python_modules.txt', import.meta.url).pathname;
/** The sinkhole's script, inlined too: a VM guest starts its sinkhole at the warm-up (sinkhole.ts). */
const SINKHOLE_SRC = new URL('../../tasks/guest/sinkhole.py', import.meta.url).pathname;
/** The Windows program shims and their library, inlined too: a VM guest installs them at the warm-up (shim-dir.ts). */
const SHIMS_DIR = new URL('../../tasks/guest/winshims/', import.meta.url).pathname;
const SHIM_LIB = new URL('../../tasks/guest/winshim.py', import.meta.url).pathname;

/** The shims as `{ files: {name: text}, lib: text }` (the define's value). */
function shimsSource(): string {
  const files = Object.fromEntries(readdirSync(SHIMS_DIR).sort().map((n) => [n, readFileSync(join(SHIMS_DIR, n), 'utf8')]));
  return JSON.stringify({ files, lib: readFileSync(SHIM_LIB, 'utf8') });
}

/** Directory holding `agent.mjs` (mounted read-only at /opt/pyti/agent in the guest). */
export const AGENT_BUNDLE_DIR = new URL('../../vm-agent/bundle/', import.meta.url).pathname.replace(/\/$/, '');

function newestSource(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newestSource(p) : s.mtimeMs);
  }
  return t;
}

/**
 * Compiles the task launcher (vm-agent/launcher/pyti-launch.c) as a static binary beside agent.mjs,
 * when missing or older than its source. Static: it runs in any guest root, needing no library
 * there. Without gcc (or a static libc) the bundle has none and the agent uses its Python launcher;
 * a warning says so.
 */
export function ensureLauncherBinary(): void {
  const out = join(AGENT_BUNDLE_DIR, 'pyti-launch');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(LAUNCHER_SRC).mtimeMs) return;
  mkdirSync(AGENT_BUNDLE_DIR, { recursive: true });
  const tmp = `${out}.tmp`;
  const r = spawnSync('gcc', ['-static', '-O2', '-s', '-Wall', '-o', tmp, LAUNCHER_SRC, '-lutil'], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    process.stderr.write(`warning: the task launcher was not compiled (${r.error?.message ?? r.stderr.trim().slice(0, 400)}); the guest agent will use its slower Python launcher\n`);
    return;
  }
  renameSync(tmp, out);
}

const TASK_HELPERS = new URL('../../tasks/guest/', import.meta.url).pathname;
/** The guest image's Python (Debian bookworm): bytecode is only valid for the same minor version. */
const GUEST_PYTHON = [3, 11];

/**
 * Compiles the guest task helpers (tasks/guest, mounted read-only in sandboxes and guests, so their
 * bytecode was compiled again in every task) into their __pycache__, as checked-hash .pyc files:
 * Python hashes the source and ignores a .pyc that does not match it, so a copy that loses the
 * files' times (the VM input disk) still uses them and a stale one is never used. Only with a host
 * python3 of the guest's minor version; otherwise nothing is written and the helpers compile as
 * before. Never fails the build.
 */
export function ensureHelperBytecode(): void {
  const probe = spawnSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
  if (probe.status !== 0 || probe.stdout.trim() !== GUEST_PYTHON.join('.')) return;
  const r = spawnSync('python3', ['-I', '-m', 'compileall', '-q', '-r', '10', '--invalidation-mode', 'checked-hash', TASK_HELPERS], { encoding: 'utf8' });
  if (r.status !== 0) process.stderr.write(`warning: the guest helpers' bytecode was not compiled: ${(r.stdout + r.stderr).trim().slice(0, 400)}\n`);
}

/** Returns the bundle's directory, building `agent.mjs` and the launcher when missing or stale; compiles the helpers' bytecode. */
export async function ensureAgentBundle(): Promise<string> {
  ensureLauncherBinary();
  ensureHelperBytecode();
  const out = join(AGENT_BUNDLE_DIR, 'agent.mjs');
  if (existsSync(out) && statSync(out).mtimeMs >= Math.max(newestSource(AGENT_SRC), statSync(WARM_PYTHON_SRC).mtimeMs, statSync(WARM_PYTHON_MODULES).mtimeMs, statSync(SINKHOLE_SRC).mtimeMs, newestSource(SHIMS_DIR), statSync(SHIM_LIB).mtimeMs)) return AGENT_BUNDLE_DIR;
  mkdirSync(AGENT_BUNDLE_DIR, { recursive: true });
  await build({
    entryPoints: [join(AGENT_SRC, 'agent-main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'esm',
    outfile: out,
    logLevel: 'warning',
    define: {
      __PYTI_WARM_PYTHON__: JSON.stringify(readFileSync(WARM_PYTHON_SRC, 'utf8')),
      __PYTI_WARM_PYTHON_MODULES__: JSON.stringify(readFileSync(WARM_PYTHON_MODULES, 'utf8')),
      __PYTI_SINKHOLE__: JSON.stringify(readFileSync(SINKHOLE_SRC, 'utf8')),
      __PYTI_SHIMS__: shimsSource(),
    },
    banner: { js: "import { createRequire as __pytiCreateRequire } from 'node:module'; const require = __pytiCreateRequire(import.meta.url);" },
  });
  return AGENT_BUNDLE_DIR;
}
