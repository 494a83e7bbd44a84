/**
 * A child process for integration tests: its output is collected line by line, a test can wait
 * for a line that matches, and it is killed when the test is done. Used to run the test index, the
 * master and slaves as separate processes, the way they run in production.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Echo the child's output to the test's stderr, prefixed with its name (debugging). */
  echo?: boolean;
}

/** A running child whose stdout and stderr lines are kept (the last 5,000). */
export class TestChild {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];

  constructor(readonly name: string, command: string, args: string[], opts: ChildOptions = {}) {
    this.proc = spawn(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((r) => this.proc.on('close', (code, signal) => r({ code, signal })));
    for (const stream of [this.proc.stdout!, this.proc.stderr!]) {
      let partial = '';
      stream.on('data', (d: Buffer) => {
        const parts = (partial + d.toString('utf8')).split('\n');
        partial = parts.pop()!;
        for (const line of parts) this.onLine(line, Boolean(opts.echo));
      });
    }
  }

  private onLine(line: string, echo: boolean): void {
    this.lines.push(line);
    if (this.lines.length > 5000) this.lines.shift();
    if (echo) process.stderr.write(`[${this.name}] ${line}\n`);
    for (const w of [...this.waiters]) {
      const m = line.match(w.re);
      if (m) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  /** Resolves with the first line (already seen or to come) that matches `re`; rejects on timeout or exit. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    for (const l of this.lines) {
      const m = l.match(re);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms; last lines:\n${this.tail()}`)), timeoutMs);
      const waiter = {
        re,
        resolve: (m: RegExpMatchArray) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.waiters.push(waiter);
      void this.exited.then((e) => {
        if (!this.waiters.includes(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${e.code ?? e.signal}) before a line matched ${re}; last lines:\n${this.tail()}`));
      });
    });
  }

  tail(n = 30): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill(signal);
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `check` every `everyMs` until it returns a value that is not undefined; throws `what` on timeout. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < end) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
}

export type { ChildProcess };
