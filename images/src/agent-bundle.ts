/**
 * The vm-agent as one JavaScript file for the guest's Node runtime (Debian bookworm: Node 18),
 * bundled with esbuild from vm-agent's sources. Rebuilt whenever a source is newer than the bundle.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const AGENT_SRC = new URL('../../vm-agent/src/', import.meta.url).pathname;

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

/** Returns the bundle's directory, building `agent.mjs` when missing or stale. */
export async function ensureAgentBundle(): Promise<string> {
  const out = join(AGENT_BUNDLE_DIR, 'agent.mjs');
  if (existsSync(out) && statSync(out).mtimeMs >= newestSource(AGENT_SRC)) return AGENT_BUNDLE_DIR;
  mkdirSync(AGENT_BUNDLE_DIR, { recursive: true });
  await build({
    entryPoints: [join(AGENT_SRC, 'agent-main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'esm',
    outfile: out,
    logLevel: 'warning',
    banner: { js: "import { createRequire as __pytiCreateRequire } from 'node:module'; const require = __pytiCreateRequire(import.meta.url);" },
  });
  return AGENT_BUNDLE_DIR;
}
