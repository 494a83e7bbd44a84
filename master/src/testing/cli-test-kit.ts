/** Helpers for tests that drive the CLI in-process against a master on a real socket. */
import type { CliIO } from '../cli/cli-io.js';

/** A CliIO that records what the CLI prints (not a terminal, no environment). */
export function cliIO(): CliIO & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', isTTY: false, env: {}, out: (s: string) => (o.stdout += s), err: (s: string) => (o.stderr += s) };
  return o;
}

/** Polls `check` every 50 ms until it returns a value; rejects naming `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
