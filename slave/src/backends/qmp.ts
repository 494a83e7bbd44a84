/**
 * A minimal QMP (QEMU Machine Protocol) client over a UNIX socket: the greeting, capability
 * negotiation, then one command at a time. Used to snapshot a warm guest (migrate to a socket).
 */
import net from 'node:net';

export class QmpClient {
  private buf = '';
  private waiting: ((msg: Record<string, unknown>) => void)[] = [];
  private closed = false;

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as Record<string, unknown>;
        if ('event' in msg) continue;
        this.waiting.shift()?.(msg);
      }
    });
    // QEMU gone (or the socket closed): whatever waits gets an error, and so does every later command.
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w({ error: { class: 'GenericError', desc: 'the QMP connection closed' } });
    });
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(path: string): Promise<QmpClient> {
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const c = new QmpClient(sock);
    const greeting = await new Promise<Record<string, unknown>>((r) => c.waiting.push(r));
    if ('error' in greeting) throw new Error(`QMP: ${JSON.stringify(greeting.error)}`);
    await c.execute('qmp_capabilities');
    return c;
  }

  /** Runs a command; resolves to its `return` value, rejects with its `error`. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error(`QMP ${command}: the QMP connection closed`));
    return new Promise((resolve, reject) => {
      this.waiting.push((msg) => ('error' in msg ? reject(new Error(`QMP ${command}: ${JSON.stringify(msg.error)}`)) : resolve(msg.return)));
      this.sock.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    });
  }

  close(): void {
    this.sock.destroy();
  }
}
