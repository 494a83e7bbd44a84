/**
 * The VM guest's attach script (written by the guest init: it sets the clock and mounts the job's
 * input disk), started once when the agent starts and left waiting for one line on its stdin: the
 * clock to set (`@SECONDS`) or `-`. A job's `initialize` then only writes that line and waits for the
 * script to exit, instead of forking the agent (a full fork of a Node process costs about 20 ms of
 * page-table copying under TCG) on the critical path of every job. In a warm guest the script was
 * started before the template was saved, so every restored guest has it waiting.
 *
 * Security: the script runs as the agent (root) and is used once: a guest attaches one job's input
 * disk, then serves that job only. Tasks run as other uids and cannot signal or feed it.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** What the script printed on stderr, kept for the error message (bounded). */
const STDERR_CAP = 4096;

/** The attach script, started and waiting; `attach` runs it once. */
export class AttachHelper {
  private proc: ChildProcessByStdio<Writable, null, Readable> | undefined;
  private stderr = '';
  private exit: Promise<number | null> | undefined;

  /** Starts `script --wait` (it waits for its line). A script that cannot start is run directly at attach(). */
  constructor(private readonly script: string) {
    try {
      const p = spawn(script, ['--wait'], { stdio: ['pipe', 'ignore', 'pipe'] });
      p.stdin.on('error', () => undefined); // a script that died: attach() sees its exit
      p.stderr.on('data', (d: Buffer) => {
        if (this.stderr.length < STDERR_CAP) this.stderr += d.toString().slice(0, STDERR_CAP - this.stderr.length);
      });
      this.exit = new Promise((resolve) => {
        p.once('error', () => resolve(null));
        p.once('close', (code) => resolve(code));
      });
      this.proc = p;
    } catch {
      this.proc = undefined;
    }
  }

  /**
   * Sets the clock to `clock` (`@SECONDS`, if given) and mounts the input disk. Rejects with the
   * script's stderr if it fails. Runs the script directly if the waiting one is gone.
   */
  async attach(clock: string | undefined, timeoutMs = 60000): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null || !p.stdin.writable) return this.runDirectly(clock, timeoutMs);
    p.stdin.end(`${clock ?? '-'}\n`);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([this.exit, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))]);
    clearTimeout(timer);
    if (code === 'timeout') {
      p.kill('SIGKILL');
      throw new Error(`the attach script did not finish within ${timeoutMs / 1000} s`);
    }
    if (code !== 0) throw new Error(this.stderr.trim() || `the attach script exited with ${code}`);
  }

  /** Stops a waiting script (the agent is ending). */
  close(): void {
    this.proc?.kill('SIGKILL');
    this.proc = undefined;
  }

  private runDirectly(clock: string | undefined, timeoutMs: number): void {
    const r = spawnSync(this.script, clock ? [clock] : [], { encoding: 'utf8', timeout: timeoutMs });
    if (r.status !== 0) throw new Error((r.stderr || r.error?.message || `the attach script exited with ${r.status}`).trim());
  }
}
