/**
 * A small Chrome DevTools Protocol client over `--remote-debugging-pipe` for page tests: Debian's
 * chromium, headless, a throw-away profile, no network beyond what the page asks of the loopback
 * master. It opens a page, collects the console and security log (CSP violations land there), and
 * evaluates expressions in the page. No dependency beyond Node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Where Debian installs chromium; tests that need it skip when it is absent. */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? null;

interface Pending { resolve: (v: any) => void; reject: (e: Error) => void }

export class HeadlessChromium {
  private readonly proc: ChildProcess;
  private readonly profile: string;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly waiters: Array<{ method: string; resolve: () => void }> = [];
  private buffer = '';
  private session = '';
  /** Console messages and log entries (CSP violations among them), in order. */
  readonly log: string[] = [];

  private constructor(binary: string) {
    this.profile = mkdtempSync(join(tmpdir(), 'pyti-chromium-'));
    this.proc = spawn(binary, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--remote-debugging-pipe', `--user-data-dir=${this.profile}`, 'about:blank'],
      // Its own process group, so close() can end chromium's helper processes (renderer, crashpad) too.
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'], detached: true });
    (this.proc.stdio[4] as Readable).on('data', (c: Buffer) => this.onData(c.toString('utf8')));
  }

  /** Starts chromium and opens one tab. */
  static async open(binary: string): Promise<HeadlessChromium> {
    const b = new HeadlessChromium(binary);
    const { targetId } = await b.call('Target.createTarget', { url: 'about:blank' });
    b.session = (await b.call('Target.attachToTarget', { targetId, flatten: true })).sessionId;
    for (const domain of ['Page', 'Runtime', 'Log']) await b.call(`${domain}.enable`, {}, true);
    return b;
  }

  private onData(text: string): void {
    this.buffer += text;
    let i: number;
    while ((i = this.buffer.indexOf('\0')) >= 0) {
      const msg = JSON.parse(this.buffer.slice(0, i));
      this.buffer = this.buffer.slice(i + 1);
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${msg.error.message}`));
        else p?.resolve(msg.result);
        continue;
      }
      if (msg.method === 'Runtime.consoleAPICalled') this.log.push(`console.${msg.params.type}: ${msg.params.args.map((a: { value?: unknown }) => String(a.value)).join(' ')}`);
      if (msg.method === 'Log.entryAdded') this.log.push(`${msg.params.entry.source}/${msg.params.entry.level}: ${msg.params.entry.text}`);
      if (msg.method === 'Runtime.exceptionThrown') this.log.push(`exception: ${msg.params.exceptionDetails.text} ${msg.params.exceptionDetails.exception?.description ?? ''}`);
      for (const w of this.waiters.filter((x) => x.method === msg.method)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  private call(method: string, params: object = {}, inSession = false): Promise<any> {
    const id = this.nextId++;
    const msg = { id, method, params, ...(inSession ? { sessionId: this.session } : {}) };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      (this.proc.stdio[3] as Writable).write(`${JSON.stringify(msg)}\0`);
    });
  }

  /** Opens `url` and waits for its load event (plus `settleMs` for its scripts' timers). */
  async goto(url: string, settleMs = 300): Promise<void> {
    const loaded = new Promise<void>((resolve) => this.waiters.push({ method: 'Page.loadEventFired', resolve }));
    await this.call('Page.navigate', { url }, true);
    await loaded;
    await new Promise((r) => setTimeout(r, settleMs));
  }

  /** The value of `expression` evaluated in the page (JSON-serializable). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.call('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, true);
    if (r.exceptionDetails) throw new Error(`evaluate: ${r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  async close(): Promise<void> {
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
    // Chromium's helper processes (renderer, crashpad) may outlive the browser and still write into the
    // profile: end the whole process group, then remove the profile, retrying while they go away.
    try {
      process.kill(-this.proc.pid!, 'SIGKILL');
    } catch {
      /* the group has already gone */
    }
    try {
      rmSync(this.profile, { recursive: true, force: true, maxRetries: 30, retryDelay: 100 });
    } catch (err) {
      // A temporary profile left in /tmp is not the page's failure: say so and go on.
      process.stderr.write(`headless chromium: could not remove ${this.profile}: ${(err as Error).message}\n`);
    }
  }
}
